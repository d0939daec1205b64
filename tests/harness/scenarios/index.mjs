// Scenario order: each is independent (fresh users and channels per run).
import quickstart from './quickstart.mjs';

export default [quickstart];
