//! The WebSocket and the timer: the only code touching the browser's I/O. Each owns
//! its closures and detaches them on drop (the timer is gloo-timers' `Timeout`), so a
//! dropped socket or timer never reports to the core again.

use std::rc::Weak;

use gloo_timers::callback::Timeout;
use js_sys::{Array, ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, MessageEvent, WebSocket};

use super::{input, Inner};
use crate::core::SUBPROTOCOL;

/// An open (or opening) WebSocket and its event handlers.
pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut()>,
}

impl Socket {
    /// Opens `url` with the `v12.stomp` subprotocol, through `constructor` (the
    /// configuration's `WebSocket`, e.g. the `ws` package on Node 20) or, when it is
    /// `undefined`, the global `WebSocket`.
    ///
    /// # Errors
    /// The constructor's exception (e.g. a malformed URL, no `WebSocket` at all).
    pub fn open(url: &str, constructor: &JsValue, inner: Weak<Inner>) -> Result<Socket, JsValue> {
        let ws: WebSocket = if constructor.is_undefined() {
            WebSocket::new_with_str(url, SUBPROTOCOL)?
        } else {
            let args = Array::of2(&url.into(), &SUBPROTOCOL.into());
            Reflect::construct::<fn() -> JsValue>(constructor.unchecked_ref(), &args)?
                .unchecked_into()
        };
        // arraybuffer, not blob: binary frames can then be read synchronously, in order
        // with text frames (the server may send either, docs/protocol.md §2.2).
        ws.set_binary_type(BinaryType::Arraybuffer);
        let w = inner.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || input(&w, |c, now| c.handle_open(now)));
        let w = inner.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            if data.is_string() {
                input(&w, |c, now| {
                    super::js::with_text_message(data, |text| c.handle_data(text, now))
                });
            } else if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
                let bytes = Uint8Array::new(buf).to_vec();
                input(&w, |c, now| c.handle_data(&bytes, now));
            }
        });
        let on_close =
            Closure::<dyn FnMut()>::new(move || input(&inner, |c, now| c.handle_closed(now)));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        // WebKitGTK fires only `error`, never `close`, when the connection is refused:
        // either ends the connection (the core ignores the second), and once the core
        // has dropped this socket neither reaches it.
        ws.set_onerror(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends one text message; a socket that is not open drops it (the core only sends
    /// on an open connection, so this happens only while it is closing).
    pub fn send(&self, text: &str) {
        let _ = self.ws.send_with_str(text);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

/// One `setTimeout` at a time, re-armed to the core's next deadline. gloo's `Timeout`
/// clears itself when dropped, so replacing or dropping the timer cancels it.
pub struct Timer {
    inner: Weak<Inner>,
    armed: Option<(u64, Timeout)>,
}

impl Timer {
    /// A timer that calls the core's `handle_timeout` when it fires.
    pub fn new(inner: Weak<Inner>) -> Timer {
        Timer { inner, armed: None }
    }

    /// Fires at `deadline` (ms since the epoch) or earlier, or never.
    ///
    /// A later deadline keeps the timer already armed: it fires early, the core finds
    /// nothing due and the deadline is armed then. Each message received moves the
    /// core's silence deadline (docs/protocol.md §2.5) a little later, and clearing and
    /// setting a browser timeout per message was measurable in the receive path
    /// (README "Benchmarks", `throughput`); this way it happens about once per
    /// heart-beat period. No deadline clears it (a pending timeout would keep Node alive).
    pub fn arm(&mut self, deadline: Option<u64>) {
        match (self.armed.as_ref().map(|(d, _)| *d), deadline) {
            (Some(armed), Some(d)) if armed <= d => return,
            (None, None) => return,
            _ => {}
        }
        self.armed = None;
        if let Some(d) = deadline {
            // gloo passes the delay on as an i32.
            let delay = d.saturating_sub(super::now()).min(i32::MAX as u64) as u32;
            let inner = self.inner.clone();
            let timeout = Timeout::new(delay, move || {
                // Disarmed before the core runs, so the same deadline can be armed again
                // (a timer may fire a millisecond early in Node). Dropping the Timeout
                // inside its own callback is safe: wasm-bindgen frees the closure after
                // the call returns.
                if let Some(i) = inner.upgrade() {
                    let fired = i.timer.borrow_mut().as_mut().and_then(|t| t.armed.take());
                    drop(fired);
                }
                input(&inner, |c, now| c.handle_timeout(now));
            });
            self.armed = Some((d, timeout));
        }
    }
}
