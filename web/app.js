// libim web chat: one page, no framework, no build step. Talks to imd over REST
// (docs/http-api.md) and one WebSocket of JSON text frames (docs/protocol.md).
// All user content reaches the DOM through textContent, never as HTML.
'use strict';

(() => {
  const PAGE_SIZE = 20;             // history page (REST) on open and on scrolling up
  const SYNC_LIMIT = 200;           // messages per conversation per sync round
  const TYPING_SEND_EVERY_MS = 2000;
  const TYPING_SHOW_MS = 4000;
  const PING_EVERY_MS = 25000;
  const PONG_TIMEOUT_MS = 10000;
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const REFRESH_MARGIN_MS = 60000;  // refresh the access token this long before it expires …
  const REFRESH_MARGIN_SHARE = 0.2;  // … or a fifth of its lifetime, when that is shorter
  const STABLE_CONNECTION_MS = 5000; // the backoff starts over after a connection lasted this long
  const RETRYABLE = new Set(['unavailable', 'internal', 'deadline_exceeded']);

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'className') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('data-') || k === 'title' || k === 'role' || k === 'type') node.setAttribute(k, String(v));
      else node[k] = v;
    }
    for (const c of children) if (c) node.append(c);
    return node;
  };

  // ---------------------------------------------------------------------------------------
  // Session storage: per tab, so two tabs (or browser contexts) are two independent logins.
  const saved = {
    get(key, fallback) {
      try {
        const v = sessionStorage.getItem(key);
        return v === null ? fallback : JSON.parse(v);
      } catch {
        return fallback;
      }
    },
    set(key, value) { sessionStorage.setItem(key, JSON.stringify(value)); },
    remove(key) { sessionStorage.removeItem(key); },
  };

  // ---------------------------------------------------------------------------------------
  // State.
  let session = saved.get('im.session', null);  // {user_id, username, device, access_token, ...}
  const users = new Map();    // user id -> {id, username, display_name}
  const groups = new Map();   // group id -> {id, name, member_count, ...} or {id, error}
  const convs = new Map();    // conversation id -> conversation state (newConversation)
  const online = new Map();   // user id -> bool (presence)
  let outbox = [];            // unacknowledged sends: {conversation_id, client_msg_id, content, created_ms, state, error}
  let activeId = null;
  let lastTypingSent = 0;
  const stats = { connects: 0, refreshes: 0, syncs: 0, lastCloseCode: 0 };

  function newConversation(id) {
    return {
      id,
      group: id.startsWith('g:'),
      lastSeq: 0,
      readSeq: 0,             // my read pointer
      readSent: 0,            // highest seq we sent a `read` for
      unreadBase: 0,          // unread count from the REST list …
      unreadBaseSeq: 0,       // … as of this seq; held messages past it are counted here
      lastActivity: 0,
      lastMessage: null,
      messages: new Map(),    // seq -> message
      syncSeq: 0,             // highest seq up to which nothing is missing (the sync position)
      syncing: false,
      loaded: false,          // latest page fetched over REST
      loadingLatest: null,
      hasOlder: false,
      loadingOlder: false,
      peerRead: new Map(),    // other user id -> their read seq (from read-receipt events)
      typing: new Map(),      // user id -> until (ms)
      notice: '',
    };
  }
  function conv(id) {
    let c = convs.get(id);
    if (!c) {
      c = newConversation(id);
      convs.set(id, c);
    }
    return c;
  }
  const me = () => (session ? session.user_id : '');

  function randomHex(bytes) {
    const a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function saveOutbox() {
    if (session) saved.set('im.outbox', { user_id: session.user_id, items: outbox });
  }
  function loadOutbox() {
    const o = saved.get('im.outbox', null);
    outbox = o && session && o.user_id === session.user_id && Array.isArray(o.items) ? o.items : [];
  }

  // Messages arrive from REST ("type":"text", numbers) and from frames ("CONTENT_TYPE_TEXT",
  // 64-bit numbers as strings): one shape for both.
  function normalizeMessage(m) {
    return {
      id: String(m.id),
      conversation_id: m.conversation_id,
      seq: Number(m.seq),
      sender: String(m.sender_id),
      clientMsgId: m.client_msg_id || '',
      custom: m.type === 'custom' || m.type === 'CONTENT_TYPE_CUSTOM',
      content: m.content,
      sentAt: Number(m.sent_at_ms) || 0,
    };
  }

  // ---------------------------------------------------------------------------------------
  // Errors.
  let errorTimer = null;
  function showError(text) {
    $('error-text').textContent = text;
    $('error-banner').hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => { $('error-banner').hidden = true; }, 15000);
  }
  class ApiError extends Error {
    constructor(code, message, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
    toString() { return `${this.code}: ${this.message}`; }
  }
  const describe = (e) => (e instanceof ApiError ? e.toString() : String(e && e.message ? e.message : e));

  // ---------------------------------------------------------------------------------------
  // REST, with the access token refreshed before it expires and once more on a 401.
  async function fetchJson(method, path, body, token) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = 'Bearer ' + token;
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError('unavailable', 'cannot reach the server (' + e.message + ')', 0);
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      throw new ApiError((data && data.code) || 'http_' + res.status, (data && data.message) || res.statusText, res.status);
    }
    return data;
  }

  async function api(method, path, body) {
    if (!session) throw new ApiError('unauthenticated', 'not logged in', 401);
    if (tokenNeedsRefresh()) await refreshTokens();
    try {
      return await fetchJson(method, path, body, session.access_token);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401 || !session) throw e;
      await refreshTokens();
      return fetchJson(method, path, body, session.access_token);
    }
  }

  // One refresh at a time: a refresh token is spent by its use, and replaying it revokes the login.
  let refreshing = null;
  let refreshTimer = null;
  function refreshTokens() {
    if (!session) return Promise.reject(new ApiError('unauthenticated', 'not logged in', 401));
    if (refreshing) return refreshing;
    const spent = session.refresh_token;
    refreshing = (async () => {
      try {
        const t = await fetchJson('POST', '/api/v1/auth/refresh', { refresh_token: spent });
        if (!session || session.refresh_token !== spent) return;
        Object.assign(session, {
          access_token: t.access_token,
          access_expires_at_ms: Number(t.access_expires_at_ms),
          access_lifetime_ms: Number(t.access_expires_at_ms) - Date.now(),
          refresh_token: t.refresh_token,
          refresh_expires_at_ms: Number(t.refresh_expires_at_ms),
        });
        saved.set('im.session', session);
        stats.refreshes++;
        scheduleRefresh();
      } catch (e) {
        if (e instanceof ApiError && [400, 401, 403, 404].includes(e.status)) {
          signOut('Your session has ended (' + e.toString() + '). Please log in again.');
        }
        throw e;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  // Refresh this long before the access token expires: a minute, or a fifth of the token's
  // lifetime when the server hands out short-lived tokens.
  function refreshMargin() {
    const lifetime = session.access_lifetime_ms || 15 * 60000;
    return Math.min(REFRESH_MARGIN_MS, Math.max(1000, lifetime * REFRESH_MARGIN_SHARE));
  }
  const tokenNeedsRefresh = () => session.access_expires_at_ms - Date.now() < refreshMargin();

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    if (!session) return;
    const delay = Math.max(1000, session.access_expires_at_ms - Date.now() - refreshMargin());
    refreshTimer = setTimeout(() => {
      refreshTokens().catch(() => setTimeout(scheduleRefresh, 5000));
    }, Math.min(delay, 2 ** 31 - 1));
  }

  // ---------------------------------------------------------------------------------------
  // The WebSocket: reconnects with exponential backoff; syncs every known conversation after
  // each (re)connect; resends unacknowledged messages under their original client_msg_id.
  const conn = {
    ws: null, attempt: 0, openedAt: 0, timer: null, paused: false, reqSeq: 0, requests: new Map(),
    pingTimer: null, pongTimer: null,
  };

  function setConnState(state, detail) {
    const s = $('conn-status');
    s.dataset.state = state;
    s.textContent = detail ? state + ' – ' + detail : state;
  }

  async function connect() {
    clearTimeout(conn.timer);
    conn.timer = null;
    if (!session || conn.paused || conn.ws) return;
    if (tokenNeedsRefresh()) {
      try {
        await refreshTokens();
      } catch {
        if (session) scheduleReconnect();
        return;
      }
      if (!session || conn.paused || conn.ws) return;
    }
    setConnState('connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/ws?token=${encodeURIComponent(session.access_token)}`);
    conn.ws = ws;
    let opened = false;
    ws.onopen = () => {
      if (conn.ws !== ws) return;
      opened = true;
      conn.openedAt = Date.now();
      stats.connects++;
      setConnState('online');
      onConnected();
    };
    ws.onmessage = (e) => {
      if (conn.ws === ws) onFrame(e.data);
    };
    ws.onerror = () => {};  // a close event follows
    ws.onclose = (e) => {
      if (conn.ws !== ws) return;
      onSocketGone(e.code, e.reason, opened);
    };
  }

  function onSocketGone(code, reason, opened) {
    conn.ws = null;
    clearInterval(conn.pingTimer);
    clearTimeout(conn.pongTimer);
    conn.requests.clear();
    for (const c of convs.values()) c.syncing = false;  // their replies died with the socket
    stats.lastCloseCode = code;
    setConnState('offline', code ? 'closed ' + code + (reason ? ' ' + reason : '') : '');
    if (!session || conn.paused) return;
    // A connection that lasted resets the backoff; one closed right after opening does not, so
    // a server that keeps closing us is not hammered.
    if (opened && Date.now() - conn.openedAt > STABLE_CONNECTION_MS) conn.attempt = 0;
    (async () => {
      try {
        if (code === 1008) {
          // The access token the socket was opened with expired (or the login was revoked):
          // refresh unless that already happened, then reconnect.
          if (tokenNeedsRefresh()) await refreshTokens();
        } else if (!opened) {
          // The upgrade failed: a browser does not show its HTTP status, so ask REST whether the
          // token is still good (api() refreshes it on a 401).
          await api('GET', '/api/v1/users/me');
        }
      } catch {
        // the server is down, or signOut() already ran
      }
      if (session && !conn.paused && !conn.ws) scheduleReconnect();
    })();
  }

  function scheduleReconnect() {
    clearTimeout(conn.timer);
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** conn.attempt);
    conn.attempt = Math.min(conn.attempt + 1, 10);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    setConnState('offline', 'reconnecting in ' + (delay / 1000).toFixed(1) + ' s');
    conn.timer = setTimeout(connect, delay);
  }

  // Drops the socket without waiting for a closing handshake (a dead link may never finish it).
  function dropSocket(code, reason) {
    const ws = conn.ws;
    if (!ws) return;
    ws.onclose = ws.onmessage = ws.onopen = null;
    try {
      ws.close(4000, reason);
    } catch {
      // already closing
    }
    onSocketGone(code, reason, true);
  }

  function sendFrame(frame) {
    if (!conn.ws || conn.ws.readyState !== WebSocket.OPEN) return false;
    conn.ws.send(JSON.stringify(frame));
    return true;
  }

  function request(type, body, meta = {}) {
    if (!conn.ws || conn.ws.readyState !== WebSocket.OPEN) return null;
    const id = 'r' + ++conn.reqSeq;
    conn.requests.set(id, { type, ...meta });
    sendFrame({ type, id, ...body });
    return id;
  }

  function onConnected() {
    for (const c of convs.values()) c.readSent = 0;  // a read lost with the old socket is sent again
    flushOutbox();
    syncConversations([...convs.keys()]);
    loadConversations().catch((e) => showError('conversations: ' + describe(e)));
    if (activeId) markRead(conv(activeId));
    clearInterval(conn.pingTimer);
    conn.pingTimer = setInterval(() => {
      if (!request('ping', { client_time_ms: String(Date.now()) })) return;
      clearTimeout(conn.pongTimer);
      conn.pongTimer = setTimeout(() => dropSocket(4001, 'no pong'), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  function syncConversations(ids) {
    const positions = [];
    for (const id of ids) {
      const c = conv(id);
      if (c.syncing) continue;
      c.syncing = true;
      positions.push({ conversation_id: id, last_seq: String(c.syncSeq) });
    }
    if (!positions.length) return;
    const sent = request('sync', {
      positions, include_unknown_conversations: false, limit_per_conversation: SYNC_LIMIT,
    }, { ids: positions.map((p) => p.conversation_id) });
    if (sent) stats.syncs++;
    else for (const p of positions) conv(p.conversation_id).syncing = false;
  }

  function flushOutbox() {
    for (const item of outbox) {
      if (item.state !== 'pending') continue;
      request('send-message', {
        conversation_id: item.conversation_id, client_msg_id: item.client_msg_id, content: item.content,
      }, { client_msg_id: item.client_msg_id });
    }
  }

  // ---------------------------------------------------------------------------------------
  // Incoming frames.
  function onFrame(data) {
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    const req = f.id ? conn.requests.get(f.id) : undefined;
    if (f.id) conn.requests.delete(f.id);
    switch (f.type) {
      case 'send-ack': return onSendAck(f);
      case 'new-message': return onNewMessage(normalizeMessage(f.message));
      case 'sync-result': return onSyncResult(f, req);
      case 'read-receipt': return onReadReceipt(f);
      case 'typing': return onTyping(f);
      case 'presence':
        online.set(String(f.user_id), !!f.online);
        return render();
      case 'pong':
        clearTimeout(conn.pongTimer);
        return undefined;
      case 'error': return onErrorFrame(f, req);
      default: return undefined;
    }
  }

  function onSendAck(f) {
    const i = outbox.findIndex((o) => o.client_msg_id === f.client_msg_id);
    const item = i >= 0 ? outbox[i] : null;
    if (i >= 0) {
      outbox.splice(i, 1);
      saveOutbox();
    }
    const c = conv(f.conversation_id);
    if (!c.messages.has(Number(f.seq)) && item) {
      addMessages(c, [{
        id: String(f.message_id), conversation_id: f.conversation_id, seq: Number(f.seq), sender: me(),
        clientMsgId: f.client_msg_id, custom: false, content: item.content, sentAt: Number(f.sent_at_ms),
      }]);
    }
    render();
  }

  function onNewMessage(m) {
    const c = conv(m.conversation_id);
    const fresh = !c.loaded && c.messages.size === 0 && c.syncSeq === 0 && c.lastSeq === 0;
    if (fresh) {
      // A conversation we had not heard of (someone wrote to us first): start from here; its
      // earlier history comes over REST when it is opened.
      c.syncSeq = m.seq - 1;
      fetchNames([c]);
    }
    if (c.messages.has(m.seq)) return;  // at-least-once delivery: drop duplicates
    c.typing.delete(m.sender);
    addMessages(c, [m]);
    if (m.sender !== me() && m.seq > c.readSeq) markRead(c);
    render();
  }

  function onSyncResult(f, req) {
    const again = [];
    for (const r of f.conversations || []) {
      const c = conv(r.conversation_id);
      c.syncing = false;
      if (r.error_code) {
        c.notice = 'Cannot sync this conversation: ' + r.error_code;
        continue;
      }
      if (r.history_lost) {
        c.notice = 'Messages before #' + r.first_available_seq + ' were trimmed and cannot be shown.';
        c.syncSeq = Math.max(c.syncSeq, Number(r.first_available_seq) - 1);
      }
      addMessages(c, (r.messages || []).map(normalizeMessage));
      markRead(c);
      if (r.has_more) again.push(c.id);
    }
    for (const id of (req && req.ids) || []) conv(id).syncing = false;
    if (again.length) syncConversations(again);
    render();
  }

  function onReadReceipt(f) {
    const c = conv(f.conversation_id);
    const seq = Number(f.read_seq);
    const reader = String(f.reader_id);
    if (reader === me()) {
      c.readSeq = Math.max(c.readSeq, seq);
    } else {
      c.peerRead.set(reader, Math.max(c.peerRead.get(reader) || 0, seq));
    }
    render();
  }

  function onTyping(f) {
    const user = String(f.user_id);
    if (user === me()) return;
    const c = conv(f.conversation_id);
    c.typing.set(user, Date.now() + TYPING_SHOW_MS);
    if (!users.has(user)) fetchUsers([user]);
    renderTyping();
    setTimeout(renderTyping, TYPING_SHOW_MS + 50);
  }

  function onErrorFrame(f, req) {
    showError(`${f.code}: ${f.message}`);
    if (req && req.type === 'send-message') {
      const item = outbox.find((o) => o.client_msg_id === req.client_msg_id);
      if (item) {
        // A rate limit says when to come back (retry_after_ms); a message over the size limit
        // is also resource_exhausted but has no retry hint and will never succeed.
        const retry = RETRYABLE.has(f.code) || (f.code === 'resource_exhausted' && f.retry_after_ms > 0);
        item.attempts = (item.attempts || 0) + 1;
        if (retry && item.attempts < 6) {
          // Stays pending and goes again under the same client_msg_id.
          const backoff = Math.max(f.retry_after_ms || 0, 1000 * 2 ** (item.attempts - 1));
          setTimeout(flushOne, backoff, item.client_msg_id);
        } else {
          item.state = 'failed';
          item.error = `${f.code}: ${f.message}`;
          saveOutbox();
        }
      }
    } else if (req && req.type === 'sync') {
      for (const id of req.ids) conv(id).syncing = false;
    }
    render();
  }

  function flushOne(clientMsgId) {
    const item = outbox.find((o) => o.client_msg_id === clientMsgId && o.state === 'pending');
    if (!item) return;
    request('send-message', {
      conversation_id: item.conversation_id, client_msg_id: item.client_msg_id, content: item.content,
    }, { client_msg_id: item.client_msg_id });
  }

  // Adds messages, keeps the sync position at the highest gapless seq, and asks for a sync when
  // a message arrives past a gap.
  function addMessages(c, list) {
    for (const m of list) {
      if (!m || !Number.isFinite(m.seq) || c.messages.has(m.seq)) continue;
      c.messages.set(m.seq, m);
      if (!c.lastMessage || m.seq >= c.lastMessage.seq) c.lastMessage = m;
      c.lastSeq = Math.max(c.lastSeq, m.seq);
      c.lastActivity = Math.max(c.lastActivity, m.sentAt || Date.now());
      if (!users.has(m.sender)) fetchUsers([m.sender]);
    }
    while (c.messages.has(c.syncSeq + 1)) c.syncSeq++;
    if (c.lastSeq > c.syncSeq) syncConversations([c.id]);
  }

  // ---------------------------------------------------------------------------------------
  // REST-backed loading.
  async function loadConversations() {
    const data = await api('GET', '/api/v1/conversations?limit=200');
    const gaps = [];
    for (const row of data.conversations || []) {
      const c = conv(row.id);
      const lastSeq = Number(row.last_seq);
      c.readSeq = Math.max(c.readSeq, Number(row.read_seq));
      c.unreadBase = Number(row.unread) || 0;
      c.unreadBaseSeq = lastSeq;
      c.lastActivity = Math.max(c.lastActivity, Number(row.last_activity_ms) || 0);
      if (row.last_message) {
        const m = normalizeMessage(row.last_message);
        if (!c.lastMessage || m.seq > c.lastMessage.seq) c.lastMessage = m;
      }
      if (c.loaded || c.messages.size) {
        if (lastSeq > c.syncSeq) gaps.push(c.id);
      } else {
        c.syncSeq = Math.max(c.syncSeq, lastSeq);
      }
      c.lastSeq = Math.max(c.lastSeq, lastSeq);
      if (isShown(c) && c.lastSeq > c.readSeq) markRead(c);
    }
    if (gaps.length) syncConversations(gaps);
    await fetchNames([...convs.values()]);
    render();
  }

  const userFetches = new Set();
  async function fetchUsers(ids) {
    const want = [...new Set(ids.map(String))].filter((id) => /^\d+$/.test(id) && !users.has(id) && !userFetches.has(id));
    if (!want.length) return;
    want.forEach((id) => userFetches.add(id));
    try {
      for (let i = 0; i < want.length; i += 100) {
        const data = await api('GET', '/api/v1/users?ids=' + want.slice(i, i + 100).join(','));
        for (const u of data.users || []) users.set(String(u.id), u);
      }
    } catch (e) {
      showError('users: ' + describe(e));
    } finally {
      want.forEach((id) => userFetches.delete(id));
      render();
    }
  }

  async function fetchGroup(gid) {
    try {
      groups.set(gid, await api('GET', '/api/v1/groups/' + gid));
    } catch (e) {
      groups.set(gid, { id: gid, error: describe(e) });
    }
    render();
  }

  async function fetchNames(list) {
    const ids = [];
    const jobs = [];
    for (const c of list) {
      if (c.group) {
        const gid = c.id.slice(2);
        if (!groups.has(gid)) {
          groups.set(gid, { id: gid, loading: true });
          jobs.push(fetchGroup(gid));
        }
      } else {
        ids.push(peerOf(c));
      }
      if (c.lastMessage) ids.push(c.lastMessage.sender);
    }
    jobs.push(fetchUsers(ids));
    await Promise.all(jobs);
  }

  async function loadLatest(c) {
    if (c.loadingLatest) return c.loadingLatest;
    c.loadingLatest = (async () => {
      try {
        const page = await api('GET', `/api/v1/conversations/${c.id}/messages?limit=${PAGE_SIZE}`);
        const list = (page.messages || []).map(normalizeMessage);
        const top = list.length ? list[list.length - 1].seq : 0;
        if (c.syncSeq < top && c.messages.size === 0) c.syncSeq = top;
        c.loaded = true;
        c.hasOlder = !!page.has_more;
        addMessages(c, list);
      } catch (e) {
        if (e instanceof ApiError && e.code === 'permission_denied') {
          c.notice = 'You are not a member of this conversation.';
          c.loaded = true;
        } else {
          showError('history: ' + describe(e));
        }
      } finally {
        c.loadingLatest = null;
      }
      render({ scroll: 'bottom' });
    })();
    return c.loadingLatest;
  }

  async function loadOlder(c) {
    if (!c.loaded || !c.hasOlder || c.loadingOlder) return;
    const oldest = Math.min(...c.messages.keys());
    if (!Number.isFinite(oldest) || oldest <= 1) {
      c.hasOlder = false;
      render();
      return;
    }
    c.loadingOlder = true;
    render();
    try {
      const page = await api('GET',
        `/api/v1/conversations/${c.id}/messages?limit=${PAGE_SIZE}&before_seq=${oldest}`);
      const list = (page.messages || []).map(normalizeMessage);
      c.hasOlder = !!page.has_more && list.length > 0;
      addMessages(c, list);
    } catch (e) {
      showError('older messages: ' + describe(e));
    } finally {
      c.loadingOlder = false;
    }
    render({ scroll: 'keep-bottom-offset' });
  }

  // ---------------------------------------------------------------------------------------
  // Actions.
  function isShown(c) {
    return c && activeId === c.id && document.visibilityState === 'visible' && !$('chat-view').hidden;
  }

  // Messages of others past my read pointer: the server's count as of the last list load, plus
  // what arrived since (live or by sync). The page being shown counts as read.
  function unreadOf(c) {
    const read = Math.max(c.readSeq, c.readSent);
    if (read >= c.lastSeq || isShown(c)) return 0;
    let n = c.unreadBaseSeq > read ? c.unreadBase : 0;
    const from = Math.max(read, c.unreadBaseSeq);
    for (const m of c.messages.values()) if (m.seq > from && m.sender !== me()) n++;
    return n;
  }

  function markRead(c) {
    if (!isShown(c)) return;
    const seq = c.lastSeq;
    if (seq <= c.readSeq || seq <= c.readSent) return;
    if (request('read', { conversation_id: c.id, seq: String(seq) }, { conversation_id: c.id })) c.readSent = seq;
  }

  async function openConversation(id) {
    activeId = id;
    saved.set('im.active', id);
    const c = conv(id);
    lastTypingSent = 0;
    $('message-input').value = '';
    render({ scroll: 'bottom' });
    if (!c.loaded) await loadLatest(c);
    markRead(c);
    render();
    $('message-input').focus();
  }

  function sendMessage(text) {
    const c = activeId && conv(activeId);
    if (!c || !text) return;
    const item = {
      conversation_id: c.id,
      client_msg_id: 'w' + randomHex(12),
      content: text,
      created_ms: Date.now(),
      state: 'pending',
    };
    outbox.push(item);
    saveOutbox();
    lastTypingSent = 0;  // the next keystroke starts a new burst of typing
    c.lastActivity = Math.max(c.lastActivity, Date.now());
    flushOne(item.client_msg_id);
    render({ scroll: 'bottom' });
  }

  function directId(a, b) {
    const [lo, hi] = [BigInt(a), BigInt(b)].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    return `d:${lo}:${hi}`;
  }
  const peerOf = (c) => c.id.split(':').slice(1).find((x) => x !== me()) || me();

  // A user id ("42" or "#42") is looked up with GET /api/v1/users?ids=. A name is looked up among
  // the users this page knows, then with GET /api/v1/users?username= — a server without that
  // lookup ignores the parameter and answers an empty list, and the user is asked for an id.
  async function startDirect(input) {
    const text = input.trim().replace(/^@/, '');
    let user = null;
    const idMatch = /^#?(\d+)$/.exec(text);
    if (idMatch) {
      const data = await api('GET', '/api/v1/users?ids=' + idMatch[1]);
      user = (data.users || [])[0] || null;
      if (!user) throw new ApiError('not_found', `no user with id ${idMatch[1]}`, 404);
      users.set(String(user.id), user);
    } else {
      const name = text.toLowerCase();
      user = [...users.values()].find((u) => u.username === name) || null;
      let answered = false;  // the server looked the name up (found or not_found)
      if (!user && /^[a-z0-9][a-z0-9_.-]{2,31}$/.test(name)) {
        try {
          const data = await api('GET', '/api/v1/users?username=' + encodeURIComponent(name));
          user = (data.users || []).find((u) => u.username === name) || null;
          answered = !!user;
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 'not_found')) throw e;
          answered = true;
        }
      }
      if (user) users.set(String(user.id), user);
      else if (answered) throw new ApiError('not_found', `no user named "${text}"`, 404);
      else {
        throw new ApiError('not_found', `the server cannot look up "${text}" by name: ` +
          'enter their user id instead (shown as #id next to their name on their page)', 404);
      }
    }
    if (String(user.id) === me()) throw new ApiError('invalid_argument', 'that is you', 400);
    const id = directId(me(), user.id);
    const c = conv(id);
    if (!c.lastActivity) c.lastActivity = Date.now();
    await openConversation(id);
  }

  async function createGroup(name) {
    // Open, with the history visible to new members: the page's groups are shared by id (the
    // server's default is invite-only, with history from each member's join).
    const g = await api('POST', '/api/v1/groups', { name, join_policy: 'open', history_visibility: 'full' });
    groups.set(String(g.id), g);
    const c = conv('g:' + g.id);
    c.lastActivity = Math.max(c.lastActivity, Number(g.created_at_ms) || Date.now());
    c.loaded = true;
    await openConversation(c.id);
  }

  async function joinGroup(gidText) {
    const gid = gidText.trim().replace(/^g:/, '').replace(/^#/, '');
    if (!/^\d+$/.test(gid)) throw new ApiError('invalid_argument', 'a group id is a number', 400);
    await api('POST', `/api/v1/groups/${gid}/join`, {});
    groups.delete(gid);
    await fetchGroup(gid);
    const c = conv('g:' + gid);
    c.lastActivity = Math.max(c.lastActivity, Date.now());
    await loadConversations();
    await openConversation(c.id);
  }

  // ---------------------------------------------------------------------------------------
  // Rendering.
  function userName(id) {
    const u = users.get(String(id));
    return u ? u.display_name || u.username : 'user #' + id;
  }
  function convTitle(c) {
    if (c.group) {
      const g = groups.get(c.id.slice(2));
      return g && g.name ? g.name : 'group #' + c.id.slice(2);
    }
    return userName(peerOf(c));
  }
  function timeText(ms) {
    if (!ms) return '';
    const d = new Date(ms);
    const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return d.toDateString() === new Date().toDateString() ? time : d.toLocaleDateString() + ' ' + time;
  }
  const previewText = (m) => (m.custom ? '[custom] ' : '') + m.content;

  let renderQueued = false;
  let scrollMode = null;
  function render(opts = {}) {
    if (opts.scroll === 'bottom' || !scrollMode) scrollMode = opts.scroll || scrollMode;
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      const mode = scrollMode;
      scrollMode = null;
      renderConversationList();
      renderActive(mode);
      renderTyping();
    });
  }

  function renderConversationList() {
    const list = $('conv-list');
    const items = [...convs.values()]
      .filter((c) => c.lastMessage || c.lastActivity || c.id === activeId || c.group)
      .sort((a, b) => b.lastActivity - a.lastActivity || (a.id < b.id ? -1 : 1));
    const nodes = items.map((c) => {
      const last = c.lastMessage;
      const unread = unreadOf(c);
      const pendingHere = outbox.filter((o) => o.conversation_id === c.id);
      const preview = pendingHere.length
        ? 'You: ' + pendingHere[pendingHere.length - 1].content
        : last ? (last.sender === me() ? 'You: ' : c.group ? userName(last.sender) + ': ' : '') + previewText(last) : '';
      const li = el('li', {
        className: 'conv-item' + (c.id === activeId ? ' active' : '') + (unread ? ' has-unread' : ''),
        'data-testid': 'conv-item',
        'data-conv-id': c.id,
        'data-unread': unread,
        role: 'button',
        tabIndex: 0,
      },
      el('div', { className: 'conv-line' },
        el('span', { className: 'conv-name', 'data-testid': 'conv-name', text: convTitle(c) }),
        !c.group && online.get(peerOf(c)) ? el('span', { className: 'dot', title: 'online' }) : null,
        unread > 0 ? el('span', { className: 'badge', 'data-testid': 'unread-badge', text: String(unread) }) : null),
      el('div', { className: 'conv-preview muted', 'data-testid': 'conv-preview', text: preview.slice(0, 120) }));
      li.addEventListener('click', () => openConversation(c.id));
      li.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') openConversation(c.id);
      });
      return li;
    });
    list.replaceChildren(...nodes);
    $('conv-empty').hidden = nodes.length > 0;
  }

  function ownState(c, m) {
    const readers = [...c.peerRead.entries()].filter(([, s]) => s >= m.seq).length;
    if (readers === 0) return ['sent', 'sent'];
    return ['read', c.group ? `read by ${readers}` : 'read'];
  }

  function renderActive(mode) {
    const c = activeId ? conv(activeId) : null;
    $('no-conv').hidden = !!c;
    $('conv-view').hidden = !c;
    if (!c) return;
    $('conv-title').textContent = convTitle(c);
    if (c.group) {
      const g = groups.get(c.id.slice(2));
      const count = g && g.member_count ? ` · ${g.member_count} member${g.member_count === 1 ? '' : 's'}` : '';
      $('conv-info').textContent = `group id ${c.id.slice(2)} (others join with it)${count}`;
    } else {
      const peer = peerOf(c);
      $('conv-info').textContent = `user #${peer}` + (online.get(peer) ? ' · online' : '');
    }

    const box = $('messages');
    const fromBottom = box.scrollHeight - box.scrollTop;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;

    const rows = [];
    const sorted = [...c.messages.values()].sort((a, b) => a.seq - b.seq);
    let prev = null;
    for (const m of sorted) {
      if (prev && m.seq !== prev.seq + 1) rows.push(el('li', { className: 'gap muted', text: '…' }));
      rows.push(messageRow(c, m));
      prev = m;
    }
    for (const item of outbox) {
      if (item.conversation_id === c.id) rows.push(pendingRow(item));
    }
    $('message-list').replaceChildren(...rows);

    const status = $('history-status');
    if (c.notice) status.textContent = c.notice;
    else if (!c.loaded) status.textContent = 'Loading…';
    else if (c.loadingOlder) status.textContent = 'Loading older messages…';
    else if (c.hasOlder) status.textContent = 'Scroll up for older messages';
    else status.textContent = sorted.length ? 'Beginning of the conversation' : 'No messages yet: say hello.';
    status.dataset.state = c.loadingOlder ? 'loading' : c.hasOlder ? 'more' : 'start';
    $('load-older-btn').hidden = !c.hasOlder || c.loadingOlder;

    if (mode === 'keep-bottom-offset') box.scrollTop = box.scrollHeight - fromBottom;
    else if (mode === 'bottom' || atBottom) box.scrollTop = box.scrollHeight;
    // Too few messages to scroll: fetch older ones now, or the top could never be scrolled to.
    if (c.loaded && c.hasOlder && !c.loadingOlder && box.scrollHeight <= box.clientHeight + 8) loadOlder(c);
  }

  function messageRow(c, m) {
    const own = m.sender === me();
    const [state, label] = own ? ownState(c, m) : ['received', ''];
    return el('li', {
      className: 'msg ' + (own ? 'own' : 'peer'),
      'data-testid': 'message',
      'data-seq': m.seq,
      'data-msg-id': m.id,
      'data-client-msg-id': m.clientMsgId,
      'data-sender-id': m.sender,
      'data-state': state,
    },
    el('div', { className: 'msg-meta muted' },
      el('span', { className: 'msg-sender', text: own ? 'You' : userName(m.sender) }),
      el('span', { className: 'msg-time', text: ' · ' + timeText(m.sentAt) })),
    el('div', { className: 'msg-text', 'data-testid': 'message-text', text: previewText(m) }),
    own ? el('div', { className: 'msg-status', 'data-testid': 'message-status', text: label }) : null);
  }

  function pendingRow(item) {
    const failed = item.state === 'failed';
    const row = el('li', {
      className: 'msg own ' + (failed ? 'failed' : 'pending'),
      'data-testid': 'message',
      'data-client-msg-id': item.client_msg_id,
      'data-sender-id': me(),
      'data-state': failed ? 'failed' : 'pending',
    },
    el('div', { className: 'msg-meta muted' }, el('span', { className: 'msg-sender', text: 'You' })),
    el('div', { className: 'msg-text', 'data-testid': 'message-text', text: item.content }),
    el('div', { className: 'msg-status', 'data-testid': 'message-status', text: failed ? 'failed: ' + item.error : 'sending…' }));
    if (failed) {
      const retry = el('button', { type: 'button', className: 'link', 'data-testid': 'retry-btn', text: 'retry' });
      retry.addEventListener('click', () => {
        item.state = 'pending';
        item.error = '';
        item.attempts = 0;
        saveOutbox();
        flushOne(item.client_msg_id);
        render();
      });
      const discard = el('button', { type: 'button', className: 'link', 'data-testid': 'discard-btn', text: 'discard' });
      discard.addEventListener('click', () => {
        outbox = outbox.filter((o) => o !== item);
        saveOutbox();
        render();
      });
      row.append(el('div', { className: 'msg-actions' }, retry, discard));
    }
    return row;
  }

  function renderTyping() {
    const box = $('typing-indicator');
    const c = activeId ? convs.get(activeId) : null;
    const now = Date.now();
    const who = [];
    if (c) {
      for (const [user, until] of c.typing) {
        if (until > now) who.push(userName(user));
        else c.typing.delete(user);
      }
    }
    box.textContent = who.length ? `${who.join(', ')} ${who.length === 1 ? 'is' : 'are'} typing…` : '';
    box.dataset.active = who.length ? 'true' : 'false';
  }

  // ---------------------------------------------------------------------------------------
  // Views, login and logout.
  function showAuth(message) {
    $('chat-view').hidden = true;
    $('auth-view').hidden = false;
    $('auth-error').textContent = message || '';
    $('auth-username').focus();
  }

  async function startChat() {
    $('auth-view').hidden = true;
    $('chat-view').hidden = false;
    loadOutbox();
    $('me-name').textContent = session.username || '';
    $('me-id').textContent = '#' + session.user_id;
    setConnState('connecting');
    scheduleRefresh();
    try {
      const user = await api('GET', '/api/v1/users/me');
      users.set(String(user.id), user);
      session.username = user.username;
      saved.set('im.session', session);
      $('me-name').textContent = user.display_name || user.username;
      await loadConversations();
    } catch (e) {
      if (!session) return;
      showError('loading: ' + describe(e));
    }
    connect();
    const last = saved.get('im.active', null);
    if (last && convs.has(last)) openConversation(last);
    render();
  }

  function signOut(message) {
    conn.paused = true;
    dropSocket(1000, 'logout');
    clearTimeout(conn.timer);
    clearTimeout(refreshTimer);
    session = null;
    saved.remove('im.session');
    saved.remove('im.outbox');
    saved.remove('im.active');
    users.clear();
    groups.clear();
    convs.clear();
    online.clear();
    outbox = [];
    activeId = null;
    conn.paused = false;
    conn.attempt = 0;
    showAuth(message);
  }

  async function login(username, password) {
    const device = 'web-' + randomHex(6);
    const t = await fetchJson('POST', '/api/v1/auth/login', { username, password, device });
    session = {
      user_id: String(t.user_id),
      username,
      device,
      access_token: t.access_token,
      access_expires_at_ms: Number(t.access_expires_at_ms),
      access_lifetime_ms: Number(t.access_expires_at_ms) - Date.now(),
      refresh_token: t.refresh_token,
      refresh_expires_at_ms: Number(t.refresh_expires_at_ms),
    };
    saved.set('im.session', session);
    saved.remove('im.active');
    await startChat();
  }

  // ---------------------------------------------------------------------------------------
  // Wiring (no inline handlers: the page runs under a strict CSP).
  function busy(button, fn) {
    return async (e) => {
      e.preventDefault();
      button.disabled = true;
      try {
        await fn();
      } catch (err) {
        showError(describe(err));
      } finally {
        button.disabled = false;
      }
    };
  }

  function authAction(register) {
    return async (e) => {
      e.preventDefault();
      const username = $('auth-username').value.trim();
      const password = $('auth-password').value;
      $('auth-error').textContent = '';
      $('login-btn').disabled = $('register-btn').disabled = true;
      try {
        if (register) {
          await fetchJson('POST', '/api/v1/auth/register', { username, password });
        }
        await login(username, password);
        $('auth-password').value = '';
      } catch (err) {
        $('auth-error').textContent = describe(err);
      } finally {
        $('login-btn').disabled = $('register-btn').disabled = false;
      }
    };
  }

  function wire() {
    $('auth-form').addEventListener('submit', authAction(false));
    $('register-btn').addEventListener('click', authAction(true));
    $('logout-btn').addEventListener('click', async () => {
      const token = session && session.refresh_token;
      signOut('');
      if (token) fetchJson('POST', '/api/v1/auth/logout', { refresh_token: token }).catch(() => {});
    });
    $('error-dismiss').addEventListener('click', () => { $('error-banner').hidden = true; });

    $('new-direct-form').addEventListener('submit', busy($('new-direct-btn'), async () => {
      await startDirect($('new-direct-input').value);
      $('new-direct-input').value = '';
    }));
    $('new-group-form').addEventListener('submit', busy($('new-group-btn'), async () => {
      await createGroup($('new-group-name').value.trim());
      $('new-group-name').value = '';
    }));
    $('join-group-form').addEventListener('submit', busy($('join-group-btn'), async () => {
      await joinGroup($('join-group-id').value);
      $('join-group-id').value = '';
    }));

    $('composer').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = $('message-input');
      if (!input.value.trim()) return;
      sendMessage(input.value);
      input.value = '';
    });
    $('message-input').addEventListener('input', () => {
      const now = Date.now();
      if (!activeId || !$('message-input').value || now - lastTypingSent < TYPING_SEND_EVERY_MS) return;
      if (sendFrame({ type: 'typing', conversation_id: activeId })) lastTypingSent = now;
    });

    $('messages').addEventListener('scroll', () => {
      if ($('messages').scrollTop < 60 && activeId) loadOlder(conv(activeId));
    });
    $('load-older-btn').addEventListener('click', () => activeId && loadOlder(conv(activeId)));

    document.addEventListener('visibilitychange', () => {
      if (activeId && document.visibilityState === 'visible') markRead(conv(activeId));
      render();
    });
    window.addEventListener('online', () => {
      if (session && !conn.ws && !conn.paused) {
        conn.attempt = 0;
        connect();
      }
    });
  }

  // Hooks for the browser test and for poking at the page from the console.
  window.imChat = Object.freeze({
    get userId() { return me(); },
    get connected() { return !!conn.ws && conn.ws.readyState === WebSocket.OPEN; },
    get stats() { return { ...stats }; },
    // Closes the WebSocket and stays offline until resumeConnection().
    pauseConnection() {
      conn.paused = true;
      clearTimeout(conn.timer);
      dropSocket(4002, 'paused');
    },
    resumeConnection() {
      conn.paused = false;
      conn.attempt = 0;
      connect();
    },
    // Replaces the access token with a forged one, as if it had expired; the next upgrade gets
    // a 401 and the page must refresh the token to get back online.
    invalidateAccessToken() {
      if (!session) return;
      session.access_token = 'expired.' + randomHex(8) + '.token';
      saved.set('im.session', session);
    },
  });

  wire();
  if (session && session.access_token && session.refresh_token) startChat();
  else showAuth('');
})();
