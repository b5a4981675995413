'use strict';
// Replays docs/protocol/vectors.json against decode.js: one line per vector, then a summary.
const fs = require('fs');
const path = require('path');
const { decode, Tuner, MalformedError } = require('./decode');

const FILE = process.argv[2] || path.join(__dirname, '..', '..', '..', 'docs', 'protocol', 'vectors.json');
const vectors = JSON.parse(fs.readFileSync(FILE, 'utf8'));
const hexBuf = (h) => Buffer.from(h, 'hex');
const TOLERANCE_S = 1e-6;

// What a decoder read from a frame, in the vectors' layout.
function describe(buffers) {
  let f;
  try {
    f = decode(...buffers);
  } catch (err) {
    if (err instanceof MalformedError) return { error: err.message };
    throw err;
  }
  const out = {
    channel: f.channel, session: f.session, kind: f.kind, publisher: f.publisher.toString('hex'),
    live: f.live, seq: Number(f.seq), sent_at: f.sentAt, ttl: f.ttl, payload: f.payload.toString('hex'),
  };
  if (f.beacon) {
    const b = f.beacon;
    out.beacon = {
      publisher: f.publisher.toString('hex'), live: b.live, live_seq: Number(b.liveSeq),
      previous: b.previous, previous_seq: Number(b.previousSeq),
      ended: b.ended.map(([n, s]) => [n, Number(s)]), signing_off: b.signingOff, wall: b.wall,
    };
  }
  if (f.audience) {
    const a = f.audience;
    out.audience = {
      channel: a.channel, sessions: a.sessions.map(([n, l, s]) => [n, l, Number(s)]), unlisted: a.unlisted,
      private_sessions: a.privateSessions, private_listeners: a.privateListeners,
    };
  }
  return out;
}

// Compares the decoder's view with the vector's; any refusal matches an `error`.
function diffFrame(got, want) {
  if ('error' in want) return 'error' in got ? null : `decoded, the vector refuses it (${want.error})`;
  if ('error' in got) return `refused: ${got.error}`;
  for (const [key, value] of Object.entries(want)) {
    if (JSON.stringify(got[key]) !== JSON.stringify(value)) {
      return `${key}: got ${JSON.stringify(got[key])}, want ${JSON.stringify(value)}`;
    }
  }
  return null;
}

function replay(seq) {
  const sub = vectors.subscriber;
  const mono = seq.monotonic ?? sub.monotonic;
  const wall = seq.wall ?? sub.wall;
  const tuner = new Tuner(sub.channel, { listenerId: sub.listener_id, monotonic: () => mono, wall: () => wall });
  const yielded = [];
  const emit = (m) => yielded.push([m.session, Number(m.seq), m.payload.toString('hex'), m.sentAt]);
  for (const step of seq.steps) {
    if (typeof step === 'string') tuner.take([hexBuf(step)], emit);
    else if (Array.isArray(step)) tuner.take(step.map(hexBuf), emit);
    else if (step.do === 'tune_in') tuner.tuneIn(step.session);
    else if (step.do === 'tune_out') tuner.tuneOut(step.session);
    else if (step.do === 'follow') tuner.follow();
    else throw new Error(`unknown step ${JSON.stringify(step)}`);
  }
  const want = seq.expect;
  const problems = [];
  const sameMessage = (a, b) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && Math.abs(a[3] - b[3]) <= TOLERANCE_S;
  if (yielded.length !== want.yielded.length || !yielded.every((m, i) => sameMessage(m, want.yielded[i]))) {
    problems.push(`yielded ${JSON.stringify(yielded)}, want ${JSON.stringify(want.yielded)}`);
  }
  for (const [name, value] of Object.entries(want.stats)) {
    if (tuner.stats[name] !== value) problems.push(`${name} ${tuner.stats[name]}, want ${value}`);
  }
  if (JSON.stringify(tuner.sessions) !== JSON.stringify(want.sessions)) {
    problems.push(`sessions ${JSON.stringify(tuner.sessions)}, want ${JSON.stringify(want.sessions)}`);
  }
  return problems.length ? problems.join('; ') : null;
}

let passed = 0;
let failed = 0;
const report = (kind, name, why) => {
  if (why === null) { passed += 1; console.log(`ok ${name}`); } else { failed += 1; console.log(`FAIL ${name}: ${why}`); }
};
const guard = (fn) => { try { return fn(); } catch (err) { return `threw ${err.stack}`; } };
for (const v of vectors.frames) report('frame', v.name, guard(() => diffFrame(describe([hexBuf(v.hex)]), v.expect)));
for (const v of vectors.messages) report('message', v.name, guard(() => diffFrame(describe(v.parts.map(hexBuf)), v.expect)));
for (const v of vectors.sequences) report('sequence', v.name, guard(() => replay(v)));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
