// Dockhand web terminal page. Loaded as a file (the CSP allows no inline script).
// Opening a one-time link (?token=...) serves this page and nothing else: this script redeems the token with a
// same-origin POST (token in the body), receives the session cookie, drops the token from the address bar and opens
// the shell. A client that runs no script (a link scanner, curl) uses nothing up.
// Protocol: binary frames carry terminal bytes both ways; text frames carry JSON control messages
// (page -> server: {"type":"resize","cols":N,"rows":M}; server -> page: {"type":"attached"} and {"type":"ended","reason":"..."}).
(function () {
  'use strict';

  // xterm.js adds <style> elements at run time. The CSP admits them only with this response's nonce.
  const nonceMeta = document.querySelector('meta[name="dockhand-style-nonce"]');
  const nonce = nonceMeta ? nonceMeta.getAttribute('content') : '';
  const createElement = Document.prototype.createElement;
  Document.prototype.createElement = function (name, options) {
    const element = createElement.call(this, name, options);
    if (nonce && String(name).toLowerCase() === 'style') {
      element.nonce = nonce;
    }
    return element;
  };

  const statusBar = document.getElementById('bar');
  const statusText = document.getElementById('status');
  const whose = document.getElementById('whose');
  const endedBox = document.getElementById('ended');
  const endedTitle = document.getElementById('ended-title');
  const endedReason = document.getElementById('ended-reason');
  const endedStatus = document.getElementById('ended-status');
  const pagePath = location.pathname.replace(/\/+$/, '');
  const encoder = new TextEncoder();

  const term = new window.Terminal({
    cursorBlink: true,
    convertEol: false,
    scrollback: 5000,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    // At 14 px DejaVu Sans Mono's cell is 16 px high with lineHeight 1, and its underscore falls just below the row:
    // Chromium's DOM renderer clips it, so "a_b" showed as "a b" (descenders were cut too). 1.2 gives the row room.
    lineHeight: 1.2,
    theme: { background: '#1e1e1e' },
  });
  const fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById('terminal'));
  fit.fit();
  term.focus();

  let socket = null;
  let ended = false;
  let endedByServer = false;

  function setStatus(text, kind) {
    statusText.textContent = text;
    statusBar.className = 'status-bar' + (kind ? ' ' + kind : '');
  }

  // Whose shell this is, so nobody types into a shell that someone else's link opened.
  function showWhose(container, owner) {
    if (!container || !owner) {
      return;
    }
    whose.textContent = 'Container ' + container + ' \u00b7 owner ' + owner;
    whose.hidden = false;
    document.title = container + ' \u2013 Dockhand terminal';
  }

  function showEnded(reason, title, status) {
    if (ended) {
      return;
    }
    ended = true;
    endedTitle.textContent = title || 'Session ended';
    endedReason.textContent = reason;
    if (status) {
      endedStatus.textContent = 'HTTP ' + status;
      endedStatus.hidden = false;
    }
    endedBox.hidden = false;
    setStatus(title || 'Session ended', 'down');
    term.options.disableStdin = true;
    term.blur();
  }

  function redeem(token) {
    setStatus('Opening your link\u2026');
    fetch(pagePath + '/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify({ token: token }),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (response.ok && body && body.container) {
          // The token is spent: keep it out of the address bar and history; a reload now re-attaches with the cookie.
          history.replaceState(null, '', pagePath);
          showWhose(body.container, body.owner);
          connect();
          return;
        }
        showEnded(body && body.detail ? body.detail : 'The terminal service answered HTTP ' + response.status + '. Run /terminal again for a new link.',
          body && body.title ? body.title : 'Link not opened', response.status);
      });
    }).catch(function () {
      showEnded('The terminal service could not be reached. Reload this page to try again, or run /terminal again for a new link.', 'Terminal unreachable');
    });
  }

  function sendResize() {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
    }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    setStatus('Connecting\u2026');
    socket = new WebSocket(scheme + '//' + location.host + pagePath + '/ws');
    socket.binaryType = 'arraybuffer';

    socket.addEventListener('open', function () {
      setStatus('Connected', 'live');
      sendResize();
    });

    socket.addEventListener('message', function (event) {
      if (typeof event.data === 'string') {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (e) {
          return;
        }
        if (message.type === 'attached') {
          term.reset();
          if (message.notice) {
            // Dim, on a line of its own, before the new shell's prompt.
            term.write('\x1b[2m[Dockhand] ' + message.notice + '\x1b[0m\r\n');
          }
          setStatus('Connected: ' + (message.shell || 'shell'), 'live');
          showWhose(message.container, message.owner);
          sendResize();
        } else if (message.type === 'ended') {
          endedByServer = true;
          showEnded(message.reason || 'The session has ended. Run /terminal again for a new link.');
        }
        return;
      }
      term.write(new Uint8Array(event.data));
    });

    socket.addEventListener('close', function () {
      if (!endedByServer) {
        showEnded('The connection to the terminal was lost. Reload this page within a few seconds to re-attach, or run /terminal again for a new link.');
      }
    });
  }

  term.onData(function (data) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(encoder.encode(data));
    }
  });
  term.onBinary(function (data) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      const bytes = new Uint8Array(data.length);
      for (let i = 0; i < data.length; i++) {
        bytes[i] = data.charCodeAt(i) & 0xff;
      }
      socket.send(bytes);
    }
  });
  term.onResize(sendResize);

  let resizeTimer = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { fit.fit(); }, 50);
  });

  // Copy: selecting text copies it (Ctrl+Shift+C also works); paste: the browser's paste (Ctrl+Shift+V / Ctrl+V / menu) goes through xterm.
  term.onSelectionChange(function () {
    const text = term.getSelection();
    if (text && navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).catch(function () { /* the user can still use the browser's copy */ });
    }
  });
  term.attachCustomKeyEventHandler(function (event) {
    if (event.type === 'keydown' && event.ctrlKey && event.shiftKey && event.code === 'KeyC') {
      const text = term.getSelection();
      if (text && navigator.clipboard) {
        navigator.clipboard.writeText(text).catch(function () {});
      }
      return false;
    }
    return true;
  });

  // Redeem only once a person can see the page: not while the browser prerenders it, nor in a tab opened in the
  // background (that waits until it is shown). A scanner's real browser that shows the page can still redeem it.
  function whenShown(action) {
    if (document.prerendering) {
      document.addEventListener('prerenderingchange', function () { whenShown(action); }, { once: true });
    } else if (document.visibilityState !== 'visible') {
      document.addEventListener('visibilitychange', function onChange() {
        if (document.visibilityState === 'visible') {
          document.removeEventListener('visibilitychange', onChange);
          action();
        }
      });
    } else {
      action();
    }
  }

  const token = new URLSearchParams(location.search).get('token');
  if (token !== null) {
    setStatus('Opening your link\u2026');
    whenShown(function () { redeem(token); });
  } else {
    connect();
  }
}());
