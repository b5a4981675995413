'use strict';
// An independent reading of docs/protocol.md (radio wire protocol, version 4):
// a frame decoder and a small subscriber state machine ("Tuner"). Written from the
// document and the conformance vectors only. Seqs are BigInt (u64); times are seconds.
//
// Beyond the page (learned from the vectors, or from watching a live radio peer):
// - kind 5 is HELLO, valid only in an inbox: seq = the session's last seq (one less than
//   the last value that follows it), payload = the tune-in tag of the subscription it answers;
// - a session's presence marker is `T \0 ID . TAG`, TAG a per-subscriber tune-in counter
//   in decimal from 1, which the publisher echoes as the HELLO's payload;
// - after a re-tune every DATA is fenced until the HELLO with the new TAG, whose seq is a
//   fresh baseline; a decoded BEACON's `session` is its live session's name.
// - kind 6 is AUDIENCE, valid only on the audience topic `ch/?/` (which a subscriber never
//   subscribes to): the listeners the publisher counts, for observers; a subscriber that
//   gets one anyway ignores it. Its `session` is ''.

const VERSION = 4;
const HEADER = 34; // !BB8sQdd
const KINDS = { 1: 'DATA', 2: 'END', 3: 'BEACON', 4: 'BATCH', 5: 'HELLO', 6: 'AUDIENCE' };
const LIVE = 0x80;
const PARTED = 0x40;
const NAME = /^[A-Za-z0-9\-_.:]{1,128}$/;
const MIN_BEACON_INTERVAL_S = 0.001;
const MAX_BEACON_INTERVAL_S = 3600;
const MAX_RECORDS = 256;
const MAX_ENDED = 8;
const MAX_AUDIENCE_SESSIONS = 32;
const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

class MalformedError extends Error {}

const fail = (why) => { throw new MalformedError(why); };

// CRC-32 (zlib's, ISO-HDLC), small and table-driven.
const CRC_TABLE = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(buf) {
  let c = -1;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

const isTime = (x) => Number.isFinite(x) && x >= 0;

function checkName(name, what) {
  if (!NAME.test(name)) fail(`bad ${what} name ${JSON.stringify(name)}`);
  return name;
}

// Reads "name/" at `at`; returns [name, index after the slash] or null.
function readName(buf, at) {
  const slash = buf.indexOf(0x2f, at);
  if (slash < 0 || slash - at > 128) return null;
  return [buf.toString('latin1', at, slash), slash + 1];
}

// The topic: a session's `ch/s/`, the control topic `ch/!/`, or an inbox `\0ch/id/s/`.
function parseTopic(buf) {
  const noTopic = () => fail(`frame has no topic: ${JSON.stringify(buf.subarray(0, 40).toString('latin1'))}`);
  const inbox = buf.length > 0 && buf[0] === 0;
  let at = inbox ? 1 : 0;
  const channel = readName(buf, at) || noTopic();
  at = channel[1];
  let id = null;
  if (inbox) {
    const got = readName(buf, at) || noTopic();
    id = checkName(got[0], 'inbox id');
    at = got[1];
  }
  const session = readName(buf, at) || noTopic();
  checkName(channel[0], 'channel');
  const control = !inbox && session[0] === '!';
  const audience = !inbox && session[0] === '?';
  if (!control && !audience) checkName(session[0], 'session');
  const name = control || audience ? '' : session[0];
  return { channel: channel[0], session: name, inbox, id, control, audience, end: session[1] };
}

function parseBeacon(p) {
  let at = 0;
  const need = (n) => { if (at + n > p.length) fail(`beacon payload cut short (${p.length} bytes)`); };
  const u8 = () => { need(1); return p[at++]; };
  const u64 = () => { need(8); const v = p.readBigUInt64BE(at); at += 8; return v; };
  const name = (allowEmpty) => {
    const n = u8();
    need(n);
    const s = p.toString('latin1', at, at + n);
    at += n;
    if (n === 0 && allowEmpty) return '';
    return checkName(s, 'beacon session');
  };
  const flags = u8();
  if (flags & ~0x01) fail(`beacon flags ${flags} has unknown bits`);
  need(8);
  const wall = p.readDoubleBE(at);
  at += 8;
  if (!isTime(wall)) fail(`beacon wall clock ${wall} is not a finite number >= 0`);
  const live = name(true);
  const liveSeq = u64();
  const previous = name(true);
  const previousSeq = u64();
  const count = u8();
  if (count > MAX_ENDED) fail(`beacon names ${count} ended sessions (at most ${MAX_ENDED})`);
  const ended = [];
  for (let i = 0; i < count; i++) ended.push([name(false), u64()]);
  if (at !== p.length) fail(`beacon payload has ${p.length - at} bytes too many`);
  return { live, liveSeq, previous, previousSeq, ended, signingOff: (flags & 1) === 1, wall };
}

// | channel u32 | unlisted u32 | private sessions u32 | private listeners u32 |
// | count u8 (0-32) | count x (name len u8, name, last seq u64, listeners u32) |
function parseAudience(p) {
  let at = 0;
  const need = (n) => { if (at + n > p.length) fail(`audience payload cut short (${p.length} bytes)`); };
  const u32 = () => { need(4); const v = p.readUInt32BE(at); at += 4; return v; };
  const channel = u32();
  const unlisted = u32();
  const privateSessions = u32();
  const privateListeners = u32();
  need(1);
  const count = p[at++];
  if (count > MAX_AUDIENCE_SESSIONS) fail(`audience lists ${count} sessions`);
  const sessions = [];
  for (let i = 0; i < count; i++) {
    need(1);
    const n = p[at++];
    need(n);
    const name = checkName(p.toString('latin1', at, at + n), 'audience session');
    at += n;
    if (sessions.some((entry) => entry[0] === name)) fail(`audience lists session ${name} twice`);
    need(8);
    const seq = p.readBigUInt64BE(at);
    at += 8;
    sessions.push([name, u32(), seq]);
  }
  if (at !== p.length) fail(`audience payload has ${p.length - at} bytes too many`);
  return { channel, sessions, unlisted, privateSessions, privateListeners };
}

function parseBatch(p, seq, ttl) {
  const records = [];
  let at = 0;
  while (at < p.length) {
    if (at + 12 > p.length) fail('batch record header cut short');
    const sentAt = p.readDoubleBE(at);
    const length = p.readUInt32BE(at + 8);
    at += 12;
    if (!isTime(sentAt)) fail(`batch record sent_at ${sentAt} is not a finite number >= 0`);
    if (at + length > p.length) fail('batch record payload cut short');
    records.push({ seq: seq + BigInt(records.length), sentAt, ttl, payload: p.subarray(at, at + length) });
    at += length;
  }
  if (records.length < 1 || records.length > MAX_RECORDS) fail(`batch of ${records.length} records`);
  return records;
}

// Decodes one frame. A parted head decodes with `parted: true`, `partLength` and `check`
// (use decode() or Tuner.take to pair it with its part).
function decodeHead(buf) {
  const t = parseTopic(buf);
  if (buf.length < t.end + HEADER) fail(`frame cut short: ${buf.length - t.end} bytes after the topic`);
  const h = t.end;
  const version = buf[h];
  if (version !== VERSION) fail(`unsupported wire version ${version} (this is ${VERSION})`);
  const byte = buf[h + 1];
  const kind = KINDS[byte & 0x3f];
  if (!kind) fail(`unknown frame kind ${byte}`);
  const live = (byte & LIVE) !== 0;
  const parted = (byte & PARTED) !== 0;
  if (live && kind !== 'DATA' && kind !== 'BATCH') fail(`${kind} frame with the live flag`);
  if (parted && kind !== 'DATA') fail(`${kind} frame with the parted flag`);
  if (t.inbox && kind !== 'DATA' && kind !== 'HELLO') fail(`${kind} frame in an inbox`);
  if (t.inbox && parted) fail('parted head in an inbox');
  if (!t.inbox && kind === 'HELLO') fail('HELLO frame outside an inbox');
  if (t.control !== (kind === 'BEACON')) fail(`${kind} frame on the ${t.control ? 'control' : 'session'} topic`);
  if (t.audience !== (kind === 'AUDIENCE')) fail(`${kind} frame on the ${t.audience ? 'audience' : 'session'} topic`);
  const frame = {
    channel: t.channel,
    session: t.session,
    inbox: t.inbox,
    id: t.id,
    kind,
    publisher: buf.subarray(h + 2, h + 10),
    live,
    parted,
    seq: buf.readBigUInt64BE(h + 10),
    sentAt: buf.readDoubleBE(h + 18),
    ttl: buf.readDoubleBE(h + 26),
    payload: buf.subarray(h + HEADER),
    size: buf.length,
  };
  if (!isTime(frame.sentAt)) fail(`sent_at ${frame.sentAt} is not a finite number >= 0`);
  if (!isTime(frame.ttl)) fail(`ttl ${frame.ttl} is not a finite number >= 0`);
  if (kind === 'BEACON') {
    if (!(frame.ttl >= MIN_BEACON_INTERVAL_S && frame.ttl <= MAX_BEACON_INTERVAL_S)) {
      fail(`beacon interval ${frame.ttl} s is not from 0.001 to 3600 s`);
    }
    frame.beacon = parseBeacon(frame.payload);
    frame.session = frame.beacon.live; // what radio's vectors record as a beacon's session
  } else if (kind === 'AUDIENCE') {
    if (!(frame.ttl >= MIN_BEACON_INTERVAL_S && frame.ttl <= MAX_BEACON_INTERVAL_S)) {
      fail(`audience interval ${frame.ttl} s is not from 0.001 to 3600 s`);
    }
    frame.audience = parseAudience(frame.payload);
  } else if (kind === 'BATCH') {
    frame.records = parseBatch(frame.payload, frame.seq, frame.ttl);
  } else if (parted) {
    if (frame.payload.length !== 12) fail(`parted head with ${frame.payload.length} bytes after the header (12)`);
    frame.partLength = frame.payload.readBigUInt64BE(0);
    frame.check = frame.payload.readUInt32BE(8);
    frame.size = h + HEADER; // the message weighs topic + header + payload
  }
  return frame;
}

function partFits(head, part) {
  if (part === undefined) return `DATA head with the parted flag and no part`;
  if (BigInt(part.length) !== head.partLength) {
    return `parted head announces ${head.partLength} bytes, the part has ${part.length}`;
  }
  if (crc32(part.subarray(0, 64)) !== head.check) return 'parted head check does not match its part';
  return null;
}

// decode(frame) or decode(head, part): a frame object, or throws MalformedError.
function decode(buf, part) {
  const frame = decodeHead(buf);
  if (!frame.parted) {
    if (part !== undefined) fail('a part after a frame that is not a parted head');
    return frame;
  }
  const why = partFits(frame, part);
  if (why) fail(why);
  return { ...frame, payload: part, size: frame.size + part.length };
}

// ---------------------------------------------------------------- the subscriber

const WINDOW_S = 60;
const OUTLIER_S = 0.25;
const SHARE_WITHIN_S = 0.05;
const OFF_AIR_AFTER = 3;
const MAX_JUMP = 2n ** 32n;

// One publisher instance's clock estimate: offset = min(arrival - sent_at) over 60 s.
class Clock {
  constructor() {
    this.samples = []; // [arrival, sample]
    this.pending = null;
    this.inherit = null; // the instance whose estimate this one shares (same host)
    this.wallOff = null; // wall - sent_at of its latest beacon
  }
  own() {
    let best = null;
    for (const [, s] of this.samples) if (best === null || s < best) best = s;
    return best;
  }
  add(now, sample) {
    this.samples = this.samples.filter(([at]) => now - at <= WINDOW_S);
    const est = this.own();
    if (est !== null && sample < est - OUTLIER_S) {
      if (this.pending !== null && Math.abs(sample - this.pending) <= OUTLIER_S) {
        this.samples.push([now, Math.max(sample, this.pending)]);
        this.pending = null;
      } else {
        this.pending = sample;
      }
      return;
    }
    this.pending = null;
    this.samples.push([now, sample]);
  }
}

const hex = (b) => Buffer.from(b).toString('hex');

class Tuner {
  constructor(channel, { listenerId, monotonic, wall, maxMessageSize } = {}) {
    this.channel = channel;
    this.id = listenerId || require('crypto').randomBytes(8).toString('hex');
    this.monotonic = monotonic || (() => Number(process.hrtime.bigint()) / 1e9);
    this.wall = wall || (() => Date.now() / 1000);
    this.maxMessageSize = maxMessageSize || DEFAULT_MAX_MESSAGE_SIZE;
    this.states = new Map(); // session -> state, kept after tune-out to recognise a re-tune
    this.clocks = new Map(); // publisher hex -> Clock
    this.tags = 0;
    this.following = false;
    this.followed = null;
    this.between = false; // moved to no live session: the next one counts from seq 0
    this.goneBy = null; // {id, lastMono, interval, signingOff, prevMono}
    this.stats = { received: 0, gaps: 0, expired: 0, fenced: 0, malformed: 0, oversize: 0, unknown_tails: 0, conflicts: 0 };
  }

  // ---- what the application does
  tuneIn(session) {
    checkName(session, 'session');
    const st = this.states.get(session);
    if (st && this.hears(st)) { st.tuned = true; return; }
    if (st) { // a re-tune: only messages sent after it, known by its own HELLO
      st.highBeforeRetune = max(st.highBeforeRetune, st.last);
      st.last = null;
      st.awaitingHello = true;
      st.helloFrom = null;
      st.lastWasHello = false;
      st.tuned = true;
      st.tag = String(++this.tags);
      return;
    }
    this.states.set(session, this.newState(session, { tuned: true }));
  }
  tuneOut(session) {
    const st = this.states.get(session);
    if (st) st.tuned = false;
  }
  follow() {
    if (!this.following) this.between = false;
    this.following = true;
  }

  newState(name, more) {
    return {
      name, tuned: false, followed: false, tag: String(++this.tags), awaitingHello: false, helloFrom: null,
      instance: null, retired: new Set(), last: null, lastWasHello: false, highBeforeRetune: null,
      lossMono: this.monotonic(), lossSent: null, ...more,
    };
  }
  hears(st) { return st.tuned || st.followed; }
  heard(name) {
    const st = this.states.get(name);
    return st && this.hears(st) ? st : null;
  }
  get sessions() { return [...this.states.values()].filter((s) => this.hears(s)).map((s) => s.name).sort(); }

  // Topics and presence markers to subscribe to now (latin1 strings), topics first.
  subscriptions() {
    const topics = [`\0${this.channel}/${this.id}/`, `${this.channel}/!/`];
    const markers = [`${this.channel}/!/\0${this.id}`];
    for (const st of this.states.values()) {
      if (!this.hears(st)) continue;
      topics.push(`${this.channel}/${st.name}/`);
      markers.push(`${this.channel}/${st.name}/\0${this.id}.${st.tag}`);
    }
    return { topics, markers };
  }

  // ---- clocks
  clock(pid) {
    let c = this.clocks.get(pid);
    if (!c) { c = new Clock(); this.clocks.set(pid, c); }
    return c;
  }
  offset(pid) {
    const c = this.clock(pid);
    const own = c.own();
    const shared = c.inherit ? this.clocks.get(c.inherit).own() : null;
    if (own === null) return shared;
    return shared === null ? own : Math.min(own, shared);
  }
  sample(pid, sentAt) {
    const now = this.monotonic();
    const fresh = !this.clocks.has(pid);
    const c = this.clock(pid);
    const sample = now - sentAt;
    if (fresh && this.goneBy && this.goneBy.id !== pid) {
      const other = this.clocks.get(this.goneBy.id)?.own();
      if (other != null && sample >= other && sample <= other + WINDOW_S) c.inherit = this.goneBy.id;
    }
    c.add(now, sample);
  }
  age(pid, sentAt) { return this.monotonic() - this.offset(pid) - sentAt; }
  wallTime(pid, sentAt) {
    const g = this.goneBy && this.clocks.get(this.goneBy.id);
    if (g && g.wallOff !== null) {
      if (pid === this.goneBy.id) return sentAt + g.wallOff;
      return sentAt + this.offset(pid) - this.offset(this.goneBy.id) + g.wallOff;
    }
    return this.wall() - this.age(pid, sentAt);
  }

  // ---- loss counting, bounded by plausibility
  count(st, k, sentAt, pid) {
    if (k <= 0n) return true;
    const now = this.monotonic();
    let elapsed = now - st.lossMono;
    const pubNow = now - this.offset(pid);
    if (st.lossSent !== null && sentAt !== undefined && sentAt - pubNow <= 2) {
      elapsed = Math.max(elapsed, sentAt - st.lossSent);
    }
    const bound = 65536 + 1e7 * Math.max(0, elapsed);
    if (Number(k) > bound) return false;
    this.stats.gaps += Number(k);
    st.lossMono = now;
    if (sentAt !== undefined) st.lossSent = sentAt;
    return true;
  }
  moveInstance(st, pid) {
    if (st.instance !== null) {
      st.retired.add(st.instance);
      this.stats.unknown_tails += 1;
      st.last = st.last === null ? null : 0n;
    }
    else if (st.last === null && pid === st.helloFrom) st.last = 0n; // its HELLO said 0
    st.instance = pid;
  }
  endSession(st, last, sentAt, pid) {
    if (st.last !== null && last > st.last) this.count(st, last - st.last, sentAt, pid);
    st.last = max(st.last, last);
    st.tuned = false;
    st.followed = false;
    st.ended = true; // a follower coming back to a session of that name counts from 0
  }

  // ---- frames
  take(frames, emit) {
    for (let i = 0; i < frames.length; i++) {
      const buf = frames[i];
      if (buf.length > this.maxMessageSize) { this.stats.oversize += 1; continue; }
      let frame;
      try {
        frame = decodeHead(buf);
      } catch (err) {
        if (!(err instanceof MalformedError)) throw err;
        this.stats.malformed += 1;
        continue;
      }
      if (frame.parted) {
        if (partFits(frame, frames[i + 1]) !== null) { this.stats.malformed += 1; continue; }
        i += 1;
        frame.payload = frames[i];
        frame.size += frames[i].length;
        if (frame.size > this.maxMessageSize) { this.stats.oversize += 1; continue; }
      }
      this.handle(frame, emit);
    }
  }

  handle(f, emit) {
    // Another listener's (or channel's) inbox is no frame of ours: malformed.
    if (f.inbox && (f.channel !== this.channel || f.id !== this.id)) { this.stats.malformed += 1; return; }
    if (f.channel !== this.channel) return;
    if (f.kind === 'AUDIENCE') return; // for observers: it changes nothing here, not even a sample
    const pid = hex(f.publisher);
    this.sample(pid, f.sentAt);
    if (f.kind === 'BEACON') return this.onBeacon(f, pid);
    const st = this.heard(f.session);
    if (!st) { // a session not heard now: its DATA (a last value too) and BATCH frames are fenced
      if (f.kind === 'DATA' || f.kind === 'BATCH') this.stats.fenced += 1;
      return;
    }
    if (f.kind === 'HELLO') return this.onHello(st, f, pid);
    if (f.kind === 'END') {
      if (st.retired.has(pid)) return;
      if (st.instance !== pid) this.moveInstance(st, pid);
      return this.endSession(st, f.seq, f.sentAt, pid);
    }
    const records = f.kind === 'BATCH' ? f.records : [{ seq: f.seq, sentAt: f.sentAt, ttl: f.ttl, payload: f.payload }];
    for (const r of records) this.onData(st, r, f, pid, emit);
  }

  onData(st, r, f, pid, emit) {
    if (f.inbox) { // the last value: only right after its HELLO, or before any baseline
      if (st.instance !== null && st.instance !== pid) return;
      const zero = st.instance === null && st.last === null && pid === st.helloFrom; // HELLO 0
      const first = !zero && st.last === null && (st.highBeforeRetune === null || r.seq > st.highBeforeRetune);
      const next = (zero && r.seq === 1n) || (st.lastWasHello && st.last !== null && r.seq === st.last + 1n);
      if (!first && !next) return;
      st.awaitingHello = false;
    }
    if (st.retired.has(pid)) { this.stats.fenced += 1; return; }
    if (st.instance !== pid) this.moveInstance(st, pid);
    if (st.awaitingHello && pid === st.helloFrom) st.awaitingHello = false;
    if (st.awaitingHello) { this.stats.fenced += 1; return; }
    if (st.last !== null) {
      const k = r.seq - st.last;
      if (k <= 0n || k > MAX_JUMP || !this.count(st, k - 1n, r.sentAt, pid)) { this.stats.fenced += 1; return; }
    }
    st.last = r.seq;
    st.lastWasHello = false;
    st.lossMono = this.monotonic();
    st.lossSent = r.sentAt;
    if (st.followed && !st.tuned && !f.live) { this.stats.fenced += 1; return; }
    if (r.ttl > 0 && this.age(pid, r.sentAt) > r.ttl) { this.stats.expired += 1; return; }
    this.stats.received += 1;
    emit({ session: st.name, seq: r.seq, payload: r.payload, sentAt: this.wallTime(pid, r.sentAt), live: f.live });
  }

  onHello(st, f, pid) {
    if (f.payload.toString('latin1') !== st.tag) return; // another tune-in's HELLO
    if (st.retired.has(pid)) return;
    if (st.instance !== null && st.instance !== pid) {
      if (!(st.last === null && f.seq > 0n)) return;
      this.moveInstance(st, pid);
    }
    if (f.seq > 0n) st.instance = pid;
    // A HELLO saying 0 with no instance heard: its publisher sent nothing on the session;
    // only its own frames come after the fence (another publisher's may not).
    if (f.seq > 0n || st.instance !== null) st.awaitingHello = false;
    else { st.helloFrom = pid; return; } // its baseline of 0 is for its own frames (moveInstance)
    if (st.last === null) st.last = f.seq;
    else if (f.seq > st.last) {
      if (!this.count(st, f.seq - st.last, f.sentAt, pid)) return;
      st.last = f.seq;
    }
    st.lastWasHello = st.last === f.seq;
  }

  onBeacon(f, pid) {
    const now = this.monotonic();
    const b = f.beacon;
    const g = this.goneBy;
    if (g && g.id !== pid && !(g.signingOff || now - g.lastMono > OFF_AIR_AFTER * g.interval)) {
      this.stats.conflicts += 1;
      return;
    }
    if (!g || g.id !== pid) this.goneBy = { id: pid, lastMono: now, prevMono: now, interval: f.ttl, signingOff: false };
    const gb = this.goneBy;
    gb.prevMono = gb.lastMono;
    gb.lastMono = now;
    gb.interval = f.ttl;
    gb.signingOff = b.signingOff;
    const c = this.clock(pid);
    const wallOff = b.wall - f.sentAt;
    if (c.wallOff === null && c.inherit) { // first beacon: same host (same monotonic clock)?
      const other = this.clocks.get(c.inherit).wallOff;
      if (other === null || Math.abs(other - wallOff) > SHARE_WITHIN_S) c.inherit = null;
    }
    c.wallOff = wallOff;
    // sessions it names are heard from this instance
    for (const name of [b.live, b.previous, ...b.ended.map(([n]) => n)]) {
      const st = name && this.heard(name);
      if (st && st.instance !== pid && !st.retired.has(pid)) this.moveInstance(st, pid);
    }
    if (this.following && b.live !== this.followed) this.switchLive(b, pid, gb.prevMono);
    const live = b.live && this.heard(b.live);
    if (live && live.instance === pid && live.last !== null && b.liveSeq > live.last) {
      if (this.count(live, b.liveSeq - live.last, f.sentAt, pid)) live.last = b.liveSeq;
    }
    for (const [name, seq] of b.ended) {
      const st = this.heard(name);
      if (st && st.instance === pid) this.endSession(st, seq, f.sentAt, pid);
    }
  }

  switchLive(b, pid, beforeMono) {
    const old = this.followed !== null ? this.states.get(this.followed) : null;
    const moved = this.followed !== null || this.between; // after a move to none too
    this.between = false;
    if (old && this.hears(old)) {
      if (b.previous === old.name && old.last !== null && b.previousSeq > old.last) {
        if (this.count(old, b.previousSeq - old.last, undefined, pid)) old.last = b.previousSeq;
      }
      old.followed = false;
    }
    this.followed = b.live || null;
    if (!b.live) { this.between = moved; return; } // the next live session counts from 0
    let st = this.states.get(b.live);
    if (st && this.hears(st)) { st.followed = true; return; }
    if (!st) { st = this.newState(b.live, {}); this.states.set(b.live, st); } else st.tag = String(++this.tags);
    st.followed = true;
    st.awaitingHello = false;
    if (moved && st.last !== null && st.instance !== null && !st.ended) {
      // back on a session it heard (s1, s2, s1): on from the last seq heard, never from 0
      if (st.instance !== pid && !st.retired.has(pid)) this.moveInstance(st, pid);
      st.lossMono = beforeMono;
    } else if (moved) { // we were listening as it began: its missed head is ours
      st.last = 0n;
      st.instance = pid;
      st.lossMono = beforeMono;
      st.lossSent = null;
    }
    st.ended = false;
  }
}

function max(a, b) {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

module.exports = { decode, decodeHead, Tuner, MalformedError, crc32, VERSION };
