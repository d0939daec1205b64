// The template's layout without next/font/google (it fetches Google Fonts at build time,
// which fails offline, as on CI); otherwise as create-next-app wrote it.
import type { Metadata } from "next";
import "./globals.css";

export const metadata: Metadata = {
  title: "chatkitty-wasm quick start",
};

export default function RootLayout({ children }: LayoutProps<"/">) {
  return (
    <html lang="en" className="h-full antialiased">
      <body className="min-h-full flex flex-col">{children}</body>
    </html>
  );
}
