'use strict';
// follow.js ENDPOINT CHANNEL SESSION COUNT: a radio subscriber in Node.js. Tunes in to
// SESSION, prints each DATA payload (utf-8) on its own line, exits 0 after COUNT.
const zmq = require('zeromq');
const { Tuner } = require('./decode');

async function main() {
  const [endpoint, channel, session, countArg] = process.argv.slice(2);
  const count = Number(countArg);
  if (!endpoint || !channel || !session || !Number.isInteger(count) || count < 0) {
    process.stderr.write('usage: node follow.js ENDPOINT CHANNEL SESSION COUNT\n');
    process.exit(2);
  }
  const tuner = new Tuner(channel);
  const sock = new zmq.Subscriber({ linger: 0 });
  sock.connect(endpoint);

  // Topics before their presence markers; markers go first when unsubscribing.
  let current = new Set();
  const sync = () => {
    const { topics, markers } = tuner.subscriptions();
    const wanted = new Set([...topics, ...markers]);
    const latin1 = (s) => Buffer.from(s, 'latin1');
    for (const t of [...topics, ...markers]) if (!current.has(t)) sock.subscribe(latin1(t));
    const gone = [...current].filter((t) => !wanted.has(t));
    gone.sort((a, b) => Number(b.includes('\0', 1)) - Number(a.includes('\0', 1)));
    for (const t of gone) sock.unsubscribe(latin1(t));
    current = wanted;
  };
  tuner.tuneIn(session);
  sync();
  process.stderr.write('ready\n');

  process.on('SIGTERM', () => {
    process.stderr.write(`stopped: ${JSON.stringify(tuner.stats)}\n`);
    process.exit(1);
  });
  let printed = 0;
  const emit = (m) => {
    if (printed < count) {
      process.stdout.write(`${m.payload.toString('utf8')}\n`);
      printed += 1;
    }
  };
  if (count > 0) {
    for await (const frames of sock) {
      tuner.take(frames, emit);
      if (printed >= count) break;
      sync();
    }
  }
  sock.close();
  process.stderr.write(`${JSON.stringify(tuner.stats)}\n`);
}

// No process.exit on success: it could cut stdout short when it is a pipe.
main().then(
  () => { process.exitCode = 0; },
  (err) => { process.stderr.write(`${err.stack}\n`); process.exit(1); },
);
