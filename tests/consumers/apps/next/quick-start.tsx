"use client";

import ChatKitty from "chatkitty-wasm";
import { useEffect, useState } from "react";
import { quickStart, serverFromLocation } from "./quickstart.js";

let started = false;

export default function QuickStart() {
  const [status, setStatus] = useState("waiting for the browser");
  useEffect(() => {
    if (started) return; // React runs effects twice in development
    started = true;
    const w = window as unknown as { quickStartReport?: unknown; quickStartStep?: string; gc?: () => void };
    quickStart(ChatKitty, serverFromLocation(), { gc: w.gc, progress: (step: string) => (w.quickStartStep = step) }).then(
      (report) => {
        w.quickStartReport = report;
        setStatus(JSON.stringify(report));
      },
      (error) => {
        w.quickStartReport = { error: String(error?.stack ?? error) };
        setStatus(String(error));
      },
    );
  }, []);
  return (
    <pre id="quick-start" data-sdk={typeof ChatKitty.getInstance}>
      {status}
    </pre>
  );
}
