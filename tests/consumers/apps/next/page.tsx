import QuickStart from "./quick-start";

export default function Home() {
  return (
    <main>
      <h1>chatkitty-wasm quick start</h1>
      <QuickStart />
    </main>
  );
}
