#!/usr/bin/env python3
"""Breaks each protocol that the loom model checks cover, one mutant at a
time, and checks that its loom test fails: the claim that the checks test
the real code (tests/loom_*.rs compile src/rt/{wait/state,wait/token,
inbox,task_state}.rs) is only as good as their power to catch a bug.

Each mutant edits the source in place, runs
  RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release -p myriad --test T
and restores the file (also on Ctrl-C). Exits 1 if a mutant survives.
Not part of CI (about 7 minutes); run it after changing a protocol:
  python3 scripts/loom_mutants.py [INDEX ...]
CI runs only `python3 scripts/loom_mutants.py --check`: that each mutant's
text is still in its file once, so the mutants cannot silently drift from
the code they break (they did once, for a session).
"""
import os
import subprocess
import sys

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
S = "crates/myriad/src/rt/"

# (what the mutant does, file or [(file, old, new)], old, new, loom test, unused)
MUTANTS = [
 ("park: no fence between beginning the wait and the token look", S+'wait/token.rs',
  "        let epoch = begin();\n        // The handshake (see the module comment): the wait began, now look.\n        fence(Ordering::SeqCst);\n",
  "        let epoch = begin();\n", 'loom_wait', ''),
 ("unpark: no fence between the token and the look at the wait", S+'wait/token.rs',
  "        // The handshake (see the module comment): the token is set, now look.\n        fence(Ordering::SeqCst);\n", "", 'loom_wait', ''),
 ("park: blind store(false) of the token after waking", S+'wait/token.rs',
  "        if self.0.load(Ordering::Relaxed) {\n            self.0.swap(false, Ordering::Acquire);\n        }\n    }",
  "        self.0.store(false, Ordering::Relaxed);\n    }", 'loom_wait', ''),
 ("unpark: token swap Relaxed instead of Release", S+'wait/token.rs',
  "self.0.swap(true, Ordering::Release)", "self.0.swap(true, Ordering::Relaxed)", 'loom_wait', ''),
 ("wait state: end() ignores the epoch", S+'wait/state.rs',
  "while current >> SHIFT == epoch && current & BLOCKED != 0 {", "while current & BLOCKED != 0 {", 'loom_wait', ''),
 ("wait state: end() stores instead of compare-and-swap", S+'wait/state.rs',
  "            match self.0.compare_exchange_weak(current, epoch << SHIFT | status, Ordering::AcqRel, Ordering::Acquire) {\n                Ok(_) => return true,\n                Err(now) => current = now,\n            }",
  "            self.0.store(epoch << SHIFT | status, Ordering::Release);\n            return true;", 'loom_wait', ''),
 ("interrupt: the interruptible wait begins without the fence", S+'wait/state.rs',
  "        self.0.store(epoch << SHIFT | BLOCKED | INTERRUPTIBLE, Ordering::Release);\n        fence(Ordering::SeqCst);\n",
  "        self.0.store(epoch << SHIFT | BLOCKED | INTERRUPTIBLE, Ordering::Release);\n", 'loom_wait', ''),
 ("interrupt: the interrupter looks at the wait without the fence", S+'wait/state.rs',
  "        // now look.\n        fence(Ordering::SeqCst);\n", "        // now look.\n", 'loom_wait', ''),
 ("inbox: post without the fence", S+'inbox.rs',
  "        self.has_mail.store(true, Ordering::SeqCst);\n        fence(Ordering::SeqCst);\n        self.take_sleeper()",
  "        self.has_mail.store(true, Ordering::SeqCst);\n        self.take_sleeper()", 'loom_inbox', ''),
 ("inbox: sleep announcement without the fence", S+'inbox.rs',
  "        self.sleeping.swap(true, Ordering::SeqCst);\n        // Between the announcement and the look at `has_mail`: see the\n        // module comment.\n        fence(Ordering::SeqCst);\n",
  "        self.sleeping.swap(true, Ordering::SeqCst);\n", 'loom_inbox', ''),
 ("inbox: sleep announcement as a store (C11-correct, but loom may order a store before an earlier RMW that read the value before it: why it is a swap)", S+'inbox.rs',
  "        self.sleeping.swap(true, Ordering::SeqCst);\n        // Between", "        self.sleeping.store(true, Ordering::SeqCst);\n        // Between", 'loom_inbox', ''),
 ("inbox: take_mail clears has_mail after draining", S+'inbox.rs',
  "            self.has_mail.store(false, Ordering::SeqCst);\n            into.extend(self.mail.lock().drain(..));",
  "            into.extend(self.mail.lock().drain(..));\n            self.has_mail.store(false, Ordering::SeqCst);", 'loom_inbox', ''),
 ("task state: is_done Relaxed instead of Acquire", S+'task_state.rs',
  "        self.0.load(Ordering::Acquire) & DONE != 0", "        self.0.load(Ordering::Relaxed) & DONE != 0", 'loom_join', ''),
 ("task state: end_on_thread leaves the end to finish even with KEEP", S+'task_state.rs',
  "if s & (JOINER | KEEP) == JOINER {", "if s & JOINER == JOINER {", 'loom_join', ''),
 ("park/unpark as before this change: SeqCst store/load/swap, no fences (C11-correct, but loom treats SeqCst accesses as AcqRel: why the code fences)", [
   (S+'wait/token.rs', "        let epoch = begin();\n        // The handshake (see the module comment): the wait began, now look.\n        fence(Ordering::SeqCst);\n", "        let epoch = begin();\n"),
   (S+'wait/token.rs', "        if self.0.load(Ordering::Relaxed) && wait.end(epoch, Woken::Woken) {", "        if self.0.load(Ordering::SeqCst) && wait.end(epoch, Woken::Woken) {"),
   (S+'wait/token.rs', "self.0.swap(true, Ordering::Release)", "self.0.swap(true, Ordering::SeqCst)"),
   (S+'wait/token.rs', "        // The handshake (see the module comment): the token is set, now look.\n        fence(Ordering::SeqCst);\n", ""),
   (S+'wait/state.rs', "        self.0.store(epoch << SHIFT | status, Ordering::Release);", "        self.0.store(epoch << SHIFT | status, if in_park { Ordering::SeqCst } else { Ordering::Release });"),
   (S+'wait/state.rs', "        let s = self.0.load(Ordering::Acquire);\n        s & (BLOCKED | IN_PARK)", "        let s = self.0.load(Ordering::SeqCst);\n        s & (BLOCKED | IN_PARK)"),
  ], None, None, 'loom_wait', ''),
 ("task state: set_joiner ignores DONE", S+'task_state.rs',
  "self.update(|s| (s & DONE == 0).then_some(s | flags))", "self.update(|s| Some(s | flags))", 'loom_join', ''),
 ("task state: drop_ref without the Acquire fence of the last one (the model's free writes the cell)", S+'task_state.rs',
  "        if old / REF == 1 {\n            fence(Ordering::Acquire);\n            return true;", "        if old / REF == 1 {\n            return true;", 'loom_join', ''),
]


def run(index, name, edits, test):
    saved = {}
    try:
        for path, old, new in edits:
            text = open(path).read()
            saved.setdefault(path, text)
            assert text.count(old) == 1, f"mutant {index}: the text to change is not in {path} once"
            with open(path, "w") as f:
                f.write(text.replace(old, new))
        env = dict(os.environ, RUSTFLAGS="--cfg loom", CARGO_TARGET_DIR="target/loom")
        cmd = ["cargo", "test", "--release", "-p", "myriad", "--test", test]
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        out = result.stdout + result.stderr
        failed = [l.split()[1] for l in out.splitlines() if l.startswith("test ") and l.endswith("FAILED")]
        killed = result.returncode != 0
        print(f"[{index}] {'killed' if killed else 'SURVIVED'}: {name} ({test}: {', '.join(failed) or 'exit ' + str(result.returncode)})", flush=True)
        return killed
    finally:
        for path, text in saved.items():
            with open(path, "w") as f:
                f.write(text)


def edits_of(path, old, new):
    """A mutant's edits: its list of (file, old, new), or its one edit."""
    return path if isinstance(path, list) else [(path, old, new)]


def check():
    """Whether every mutant still finds the text it changes, once."""
    drifted = 0
    for index, (name, path, old, new, _test, _filter) in enumerate(MUTANTS):
        for file, text, _ in edits_of(path, old, new):
            count = open(file).read().count(text)
            if count != 1:
                drifted += 1
                print(f"[{index}] {name}: its text is in {file} {count} times, not once; update the mutant")
    print(f"loom_mutants --check: {len(MUTANTS)} mutants, {drifted} drifted")
    return 1 if drifted else 0


def main():
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    chosen = {int(a) for a in sys.argv[1:]}
    survivors = 0
    for index, (name, path, old, new, test, _filter) in enumerate(MUTANTS):
        if chosen and index not in chosen:
            continue
        survivors += not run(index, name, edits_of(path, old, new), test)
    sys.exit(1 if survivors else 0)


if __name__ == "__main__":
    main()
