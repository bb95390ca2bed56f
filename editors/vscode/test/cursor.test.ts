// Tests: the `airgap/cursor` hint: debounced, only for open documents, no repeats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CursorHint, CursorHints, REST_MS, Timers } from '../src/cursor';

/** A clock the test moves by hand. */
class FakeTimers implements Timers {
  now = 0;
  private queue: { at: number; fn: () => void; id: number }[] = [];
  private next = 1;
  set(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.queue.push({ at: this.now + ms, fn, id });
    return id;
  }
  clear(handle: unknown): void {
    this.queue = this.queue.filter((t) => t.id !== handle);
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = this.queue.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) {
        break;
      }
      this.queue = this.queue.filter((t) => t !== due);
      this.now = due.at;
      due.fn();
    }
    this.now = end;
  }
}

const URI = 'file:///w/a.py';

function hint(line: number, character: number, version = 1, uri = URI): CursorHint {
  return { textDocument: { uri, version }, position: { line, character } };
}

function setup(): { sent: [number, CursorHint][]; hints: CursorHints; clock: FakeTimers } {
  const clock = new FakeTimers();
  const sent: [number, CursorHint][] = [];
  const hints = new CursorHints((h) => sent.push([clock.now, h]), clock);
  return { sent, hints, clock };
}

test('one hint once the cursor rests, for where it stopped', () => {
  const { sent, hints, clock } = setup();
  hints.opened(URI);
  hints.moved(hint(0, 1));
  clock.advance(100);
  hints.moved(hint(0, 2));
  clock.advance(100);
  hints.moved(hint(1, 0));
  assert.equal(sent.length, 0);
  clock.advance(REST_MS - 1);
  assert.equal(sent.length, 0);
  clock.advance(1);
  assert.deepEqual(sent.map(([, h]) => h), [hint(1, 0)]);
  assert.equal(sent[0][0], 200 + REST_MS);
});

test('at most one hint per 300 ms however the cursor moves', () => {
  const { sent, hints, clock } = setup();
  hints.opened(URI);
  for (let i = 0; i < 100; i++) {
    hints.moved(hint(i, i % 7));
    clock.advance(i % 3 === 0 ? 320 : 50);
  }
  clock.advance(1000);
  const times = sent.map(([t]) => t);
  for (let i = 1; i < times.length; i++) {
    assert.ok(times[i] - times[i - 1] >= REST_MS, `hints ${times[i - 1]} and ${times[i]}`);
  }
  assert.ok(sent.length > 10);
});

test('never for a document the server does not have open', () => {
  const { sent, hints, clock } = setup();
  hints.moved(hint(0, 0));
  clock.advance(1000);
  hints.opened(URI);
  hints.moved(hint(0, 1));
  hints.closed(URI); // closed while the hint waited
  clock.advance(1000);
  hints.moved(hint(0, 2));
  clock.advance(1000);
  assert.deepEqual(sent, []);
});

test('the same place is not sent twice; a new version of the document is a new place', () => {
  const { sent, hints, clock } = setup();
  hints.opened(URI);
  hints.moved(hint(2, 4));
  clock.advance(REST_MS);
  hints.moved(hint(2, 4));
  clock.advance(REST_MS);
  hints.moved(hint(2, 4, 2));
  clock.advance(REST_MS);
  assert.deepEqual(sent.map(([, h]) => h.textDocument.version), [1, 2]);
});

test('dispose cancels a waiting hint', () => {
  const { sent, hints, clock } = setup();
  hints.opened(URI);
  hints.moved(hint(0, 0));
  hints.dispose();
  clock.advance(1000);
  assert.deepEqual(sent, []);
});
