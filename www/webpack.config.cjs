// The same app built with webpack 5, to show the package works there too:
// `npx webpack --config webpack.config.cjs` builds into dist-webpack/.
// Nothing special for the SDK: webpack 5 emits `new URL('…_bg.wasm', import.meta.url)`
// as an asset. CSS uses webpack's built-in CSS support; a few lines below write
// index.html (no plugins, no loaders).
const { readFileSync } = require('node:fs');
const path = require('node:path');
const webpack = require('webpack');

class IndexHtml {
  apply(compiler) {
    compiler.hooks.thisCompilation.tap('IndexHtml', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'IndexHtml', stage: webpack.Compilation.PROCESS_ASSETS_STAGE_SUMMARIZE }, () => {
        const files = [...compilation.entrypoints.get('main').getFiles()];
        const tags = [
          ...files.filter((f) => f.endsWith('.css')).map((f) => `<link rel="stylesheet" href="./${f}" />`),
          ...files.filter((f) => f.endsWith('.js')).map((f) => `<script defer src="./${f}"></script>`),
        ].join('\n    ');
        const html = readFileSync(path.join(__dirname, 'index.html'), 'utf8')
          .replace(/\s*<script type="module" src="\/src\/main.js"><\/script>/, '')
          .replace('</head>', `  ${tags}\n  </head>`);
        compilation.emitAsset('index.html', new webpack.sources.RawSource(html));
      });
    });
  }
}

module.exports = (env, argv) => ({
  mode: argv.mode || 'production',
  entry: './src/main.js',
  output: {
    path: path.join(__dirname, 'dist-webpack'),
    filename: 'assets/[name].[contenthash:8].js',
    assetModuleFilename: 'assets/[name].[contenthash:8][ext]',
    cssFilename: 'assets/[name].[contenthash:8].css',
    clean: true,
  },
  experiments: { css: true },
  plugins: [
    new IndexHtml(),
    // What Vite provides as import.meta.env.
    new webpack.DefinePlugin({
      'import.meta.env.VITE_CHATKITTY_API_KEY': JSON.stringify(process.env.VITE_CHATKITTY_API_KEY || ''),
      'import.meta.env.VITE_CHATKITTY_HOST': JSON.stringify(process.env.VITE_CHATKITTY_HOST || ''),
    }),
  ],
  performance: { hints: false },
});
