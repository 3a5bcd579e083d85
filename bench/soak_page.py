"""What bench/soak.py runs inside each tab: it stamps the websocket's traffic, presses Train again when a
run is Done, and reads the status line and the server's load in one round trip."""

STAMP_WEBSOCKET = """
(() => {
  const Native = window.WebSocket;
  window.__stamps = [];
  window.__sent = [];
  function Stamped(...args) {
    const socket = new Native(...args);
    socket.addEventListener('message', () => window.__stamps.push(Date.now()));
    const send = socket.send.bind(socket);
    socket.send = (data) => { window.__sent.push(Date.now()); return send(data); };
    return socket;
  }
  Stamped.prototype = Native.prototype;
  for (const key of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Stamped[key] = Native[key];
  window.WebSocket = Stamped;
})();
"""
# As a student would, at once: a tab whose run is Done presses Train again, so every tab stays busy. In the
# page (checked every 0.1 s), not from the soak's once-a-second reading, whose wait would count as the tab's
# silence. The moments it pressed are kept in window.__done.
RETRAIN_WHEN_DONE = """() => {
  window.__done = [];
  setInterval(() => {
    const status = document.querySelector('[data-testid="stProgress"]')?.innerText ?? '';
    const last = window.__done[window.__done.length - 1] ?? 0;
    if (!status.startsWith('Done') || Date.now() - last < 2000) return;
    const train = [...document.querySelectorAll('button')]  // its text: an icon's name, then "Train"
      .find((b) => b.offsetParent !== null && b.innerText.trim().split('\\n').pop() === 'Train');
    if (train && !train.disabled) { window.__done.push(Date.now()); train.click(); }
  }, 100);
}"""

# one round trip per tab and second (the soak's own reading competes with the tabs for the same cores)
READ_PAGE = """() => [document.querySelector('[data-testid="stProgress"]')?.innerText ?? '',
                    document.querySelector('.server-load')?.innerText ?? '']"""
