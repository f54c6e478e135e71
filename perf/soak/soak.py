#!/usr/bin/python3
"""Soak: 16 O_DIRECT readers and 1 flushing writer through a writable FUSE mount (disk.raw) and an
NBD export (libnbd) of the same chain at once, each checked against its own shadow file the whole
time; both servers are restarted mid-run (SIGTERM, then SIGKILL) and reopened from the same redo
log. Exit 0 only with 0 mismatches and 0 lost flushed writes. Prints peak RSS of the servers.
Usage: soak.py MINUTES MOUNTCHAIN(.dll or native binary) WORKDIR"""
import mmap, os, random, signal, subprocess, sys, threading, time
import nbd

MINUTES, DLL, WORK = float(sys.argv[1]), sys.argv[2], sys.argv[3]
CLI = ["dotnet", DLL] if DLL.endswith(".dll") else [DLL]  # the JIT build or a native binary
SIZE = 128 << 20
STRIPE = 1 << 20
READERS = 16  # per front-end: 8 on FUSE, 8 on NBD
MAX_IO = 256 << 10
ALIGN = 4096
deadline = time.monotonic() + MINUTES * 60
failures = []
stats = {"reads": 0, "writes": 0, "flushes": 0, "bytes_read": 0, "restarts": 0, "repairs": 0}
stats_lock = threading.Lock()
peak_rss = {}


def log(msg):
    print(f"soak: {msg}", flush=True)


def fail(msg):
    failures.append(msg)
    log("FAIL " + msg)


def mountchain(*args, check=True):
    r = subprocess.run([*CLI, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"mountchain {' '.join(args)}: {r.stderr.strip()}")
    return r


def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Gate:
    """Workers pass through between operations; the controller closes it and waits until all are parked."""
    def __init__(self, workers):
        self.cond = threading.Condition()
        self.open, self.parked, self.workers = True, 0, workers

    def passage(self):
        with self.cond:
            if self.open:
                return
            self.parked += 1
            self.cond.notify_all()
            while not self.open:
                self.cond.wait()
            self.parked -= 1

    def close(self):
        with self.cond:
            self.open = False
            while self.parked < self.workers:
                self.cond.wait(0.1)

    def reopen(self):
        with self.cond:
            self.open = True
            self.cond.notify_all()

    def leave(self):
        with self.cond:
            self.workers -= 1
            self.cond.notify_all()


class FrontEnd:
    """One writable export of the chain with its shadow (bytearray), stripe locks and the gate its workers pass."""
    def __init__(self, name, redo):
        self.name, self.redo = name, redo
        with open(os.path.join(WORK, "base.raw"), "rb") as f:
            self.shadow = bytearray(f.read())
        self.locks = [threading.Lock() for _ in range(SIZE // STRIPE)]
        self.gate = Gate(READERS // 2 + 1)
        self.proc = None

    def lock(self, off, n):
        ids = range(off // STRIPE, (off + n - 1) // STRIPE + 1)
        for i in ids:
            self.locks[i].acquire()
        return ids

    def unlock(self, ids):
        for i in ids:
            self.locks[i].release()

    def check(self, data, off, who):
        expect = self.shadow[off:off + len(data)]
        if data != expect:
            first = next(i for i in range(len(data)) if data[i] != expect[i])
            fail(f"{self.name} {who}: mismatch at {off + first} (read {off}+{len(data)})")
            return False
        return True


class FuseFront(FrontEnd):
    def __init__(self):
        super().__init__("fuse", os.path.join(WORK, "fuse-redo.vmdk"))
        self.mnt = os.path.join(WORK, "mnt")
        os.makedirs(self.mnt, exist_ok=True)

    def start(self):
        args = ["mount", os.path.join(WORK, "base.vmdk"), self.mnt, "--write", "--redo", self.redo, "--foreground"]
        for attempt in range(2):
            self.proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            t0 = time.monotonic()
            while not os.path.exists(os.path.join(self.mnt, "disk.raw")) and self.proc.poll() is None and time.monotonic() - t0 < 60:
                time.sleep(0.05)
            if self.proc.poll() is None and os.path.exists(os.path.join(self.mnt, "disk.raw")):
                return
            err = self.proc.stderr.read() if self.proc.poll() is not None else "timeout"
            if attempt == 0 and "repair-log" in err:
                mountchain("repair-log", self.redo)
                stats["repairs"] += 1
                continue
            raise RuntimeError(f"fuse mount failed: {err.strip()}")

    def stop(self, sig):
        self.proc.send_signal(sig)
        self.proc.wait(60)
        mountchain("unmount", self.mnt, check=False)  # clears the stale mount after SIGKILL

    def opener(self):
        fd = os.open(os.path.join(self.mnt, "disk.raw"), os.O_RDWR | os.O_DIRECT)
        buf = mmap.mmap(-1, MAX_IO)

        def read(off, n):
            view = memoryview(buf)[:n]
            got = os.preadv(fd, [view], off)
            return bytes(view[:got])

        def write(off, data):
            buf[:len(data)] = data
            os.pwritev(fd, [memoryview(buf)[:len(data)]], off)

        def flush():
            os.fsync(fd)

        def close():
            os.close(fd)
        return read, write, flush, close


class NbdFront(FrontEnd):
    def __init__(self):
        super().__init__("nbd", os.path.join(WORK, "nbd-redo.vmdk"))
        self.uri = None

    def start(self):
        args = ["serve", os.path.join(WORK, "base.vmdk"), "--write", "--redo", self.redo, "--listen", "127.0.0.1:0"]
        for attempt in range(2):
            self.proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = self.proc.stdout.readline()
            if "nbd://" in line:
                self.uri = line.split()[-1]
                return
            err = self.proc.stderr.read()
            if attempt == 0 and "repair-log" in err:
                mountchain("repair-log", self.redo)
                stats["repairs"] += 1
                continue
            raise RuntimeError(f"serve failed: {err.strip()}")

    def stop(self, sig):
        self.proc.send_signal(sig)
        self.proc.wait(60)

    def opener(self):
        h = nbd.NBD()
        h.connect_uri(self.uri)

        def read(off, n):
            return h.pread(n, off)

        def write(off, data):
            h.pwrite(data, off)

        def flush():
            h.flush()

        def close():
            try:
                h.shutdown()
            except nbd.Error:
                pass
        return read, write, flush, close


def rand_range(rng):
    n = rng.randrange(1, MAX_IO // ALIGN + 1) * ALIGN
    off = rng.randrange(0, (SIZE - n) // ALIGN + 1) * ALIGN
    return off, n


def reader(front, seed):
    rng = random.Random(seed)
    io = front.opener()
    try:
        while time.monotonic() < deadline and not failures:
            if not front.gate.open:
                io[3]()
                front.gate.passage()
                io = front.opener()
                continue
            off, n = rand_range(rng)
            ids = front.lock(off, n)
            try:
                data = io[0](off, n)
                front.check(data, off, "reader")
            finally:
                front.unlock(ids)
            with stats_lock:
                stats["reads"] += 1
                stats["bytes_read"] += n
    except Exception as e:  # noqa: BLE001 - any failure of a reader fails the soak
        fail(f"{front.name} reader: {type(e).__name__}: {e}")
    finally:
        io[3]()  # an open disk.raw would keep the mount busy at the end
        front.gate.leave()


def writer(front, seed):
    """Writes random data, flushing every 8 writes; unflushed ranges are remembered for the kill check."""
    rng = random.Random(seed)
    io = front.opener()
    front.unflushed = []  # (off, old bytes) since the last flush
    try:
        while time.monotonic() < deadline and not failures:
            if not front.gate.open:
                io[3]()
                front.gate.passage()
                io = front.opener()
                continue
            off, n = rand_range(rng)
            data = rng.randbytes(n)
            ids = front.lock(off, n)
            try:
                front.unflushed.append((off, bytes(front.shadow[off:off + n])))
                io[1](off, data)
                front.shadow[off:off + n] = data
            finally:
                front.unlock(ids)
            with stats_lock:
                stats["writes"] += 1
            if len(front.unflushed) >= 8:
                io[2]()
                front.unflushed = []
                with stats_lock:
                    stats["flushes"] += 1
    except Exception as e:  # noqa: BLE001
        fail(f"{front.name} writer: {type(e).__name__}: {e}")
    finally:
        io[3]()
        front.gate.leave()


def verify_after_kill(front):
    """After SIGKILL and reopening: flushed data must be there; an unflushed range may hold old or new bytes per 4 KiB."""
    read, _, _, close = front.opener()
    unsure = {}
    for off, old in front.unflushed:
        for b in range(0, len(old), ALIGN):
            unsure.setdefault(off + b, []).append(old[b:b + ALIGN])
    lost = 0
    for off in range(0, SIZE, MAX_IO):
        data = read(off, MAX_IO)
        for b in range(0, MAX_IO, ALIGN):
            o = off + b
            got, want = data[b:b + ALIGN], bytes(front.shadow[o:o + ALIGN])
            if got == want:
                continue
            if o in unsure and got in unsure[o]:
                front.shadow[o:o + ALIGN] = got  # an unflushed write that did not survive: allowed
                continue
            lost += 1
    close()
    if lost:
        fail(f"{front.name}: {lost} blocks of 4 KiB differ after SIGKILL (flushed writes lost or corrupted)")
    front.unflushed = []
    return lost


def restart(front, sig):
    front.gate.close()
    front.stop(sig)
    stats["restarts"] += 1
    front.start()
    if sig == signal.SIGKILL:
        verify_after_kill(front)
    else:
        front.unflushed = []  # a clean stop keeps everything
    log(f"{front.name}: restarted after {signal.Signals(sig).name}")
    front.gate.reopen()


def sampler(fronts):
    while time.monotonic() < deadline + 5:
        for f in fronts:
            if f.proc and f.proc.poll() is None:
                peak_rss[f.name] = max(peak_rss.get(f.name, 0), rss(f.proc.pid))
        time.sleep(0.5)


def main():
    fronts = [FuseFront(), NbdFront()]
    for f in fronts:
        f.start()
    threads = []
    for f in fronts:
        for i in range(READERS // 2):
            threads.append(threading.Thread(target=reader, args=(f, hash((f.name, i))), daemon=True))
        threads.append(threading.Thread(target=writer, args=(f, hash((f.name, "w"))), daemon=True))
    for t in threads:
        t.start()
    threading.Thread(target=sampler, args=(fronts,), daemon=True).start()
    # Restarts at 30% (SIGTERM) and 60% (SIGKILL) of the run, on both front-ends.
    total = MINUTES * 60
    start = time.monotonic()
    for at, sig in ((0.3, signal.SIGTERM), (0.6, signal.SIGKILL)):
        while time.monotonic() - start < total * at and not failures:
            time.sleep(0.2)
        if failures:
            break
        for f in fronts:
            restart(f, sig)
    for t in threads:
        t.join()
    # Final check of the whole device against the shadow after a clean stop and remount.
    for f in fronts:
        if not failures:
            f.stop(signal.SIGTERM)
            f.start()
            f.unflushed = []
            verify_after_kill(f)
        f.stop(signal.SIGTERM)
    log(f"{stats['reads']} reads ({stats['bytes_read'] >> 20} MiB), {stats['writes']} writes, {stats['flushes']} flushes, "
        f"{stats['restarts']} restarts, {stats['repairs']} redo-log repairs")
    log("peak RSS: " + ", ".join(f"{k} {v >> 20} MiB" for k, v in peak_rss.items()))
    log(f"{len(failures)} failures (mismatches and lost flushed writes)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
