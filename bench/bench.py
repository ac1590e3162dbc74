#!/usr/bin/env python3
"""make bench: lienthong end to end against Kafka's own tools, on one broker, in one run.

Starts a private broker (deploy/kafka.sh, 127.0.0.1:LT_BENCH_PORT) and measures on it:
  1. reference: Kafka's ProducerPerformance and ConsumerPerformance (kafka-tools of the
     broker's version, deploy/kafka.sh fetch-tools) and kcat, producing then consuming,
     acks=all and idempotent producers, one partition (as one sender's documents to one
     recipient travel), for each reference record size;
  2. crypto ceiling of one core: lt_sign and lt_sign_verify per second for the configured
     key type, SHA-256 MiB/s (build/bench/crypto_bench); the filesystem's floor: CPU and
     wall time per document of the folder target's writes alone, and the disk's fdatasync
     latencies (build/bench/fs_bench, run last);
  3. lienthong end to end: agency A submits documents with lienthong-upload for agency B,
     delivered to B's target folder, receipts back to A; at full load, then paced at one
     tenth of the delivered rate; for each document size, then large documents.
Prints a table (ratios to the references of this run) and writes the same as JSON to
bench/results/<date>-<host>.json. Figures are printed, never asserted. The settings are
environment variables (see README, "Benchmark"); LT_BENCH_QUICK=1 is the smoke run.
"""
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIB = 1024
MIB = 1024 * 1024


class BenchError(Exception):
    pass


def env_int(name, default, lo=0, hi=1 << 40):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    if not re.fullmatch(r"[0-9]+", raw) or not lo <= int(raw) <= hi:
        raise BenchError(f"{name}={raw} is not a whole number in [{lo}, {hi}]")
    return int(raw)


def env_sizes(name, default):
    raw = os.environ.get(name, default)
    out = []
    for word in raw.replace(",", " ").split():
        m = re.fullmatch(r"([0-9]+)([KkMm]?)", word)
        if not m or int(m.group(1)) == 0:
            raise BenchError(f"{name}: '{word}' is not a size such as 1024, 64K or 8M")
        out.append(int(m.group(1)) * {"": 1, "k": KIB, "m": MIB}[m.group(2).lower()])
    return out


def settings():
    quick = os.environ.get("LT_BENCH_QUICK", "0") not in ("", "0")
    s = {
        "mode": "quick" if quick else "full",
        "port": env_int("LT_BENCH_PORT", 46092, 1, 55535),
        "ref_sizes": env_sizes("LT_BENCH_REF_SIZES", "1K 64K 768K"),
        "ref_records": env_int("LT_BENCH_REF_RECORDS", 20000 if quick else 500000, 1),
        "ref_mib": env_int("LT_BENCH_REF_MIB", 128 if quick else 2048, 1),
        "doc_sizes": env_sizes("LT_BENCH_SIZES", "1K 64K"),
        "docs": env_int("LT_BENCH_DOCS", 1000 if quick else 20000, 1),
        "doc_mib": env_int("LT_BENCH_DOC_MIB", 32 if quick else 512, 1),
        "paced_seconds": env_int("LT_BENCH_PACED_SECONDS", 5 if quick else 30, 1),
        "large_size": env_sizes("LT_BENCH_LARGE_SIZE", "8M")[0],
        "large_docs": env_int("LT_BENCH_LARGE_DOCS", 2 if quick else 64, 1),
        "key_type": os.environ.get("LT_BENCH_KEY_TYPE", "ec"),
        "partitions": env_int("LT_BENCH_PARTITIONS", 1, 1, 64),
        "poll_ms": env_int("LT_BENCH_POLL_MS", 50, 5, 10000),
        "crypto_seconds": env_int("LT_BENCH_CRYPTO_SECONDS", 1 if quick else 3, 1, 600),
        "fs_docs": env_int("LT_BENCH_FS_DOCS", 2000 if quick else 20000, 1, 1000000),
        "perf": os.environ.get("LT_BENCH_PERF", ""),
        "perf_callgraph": os.environ.get("LT_BENCH_PERF_CALLGRAPH", "fp"),
        "agent_set": os.environ.get("LT_BENCH_AGENT_SET", "").split(),
        "keep": os.environ.get("LT_BENCH_KEEP", "0") not in ("", "0"),
        "build": os.environ.get("LT_BUILD", "build"),
        "results": os.environ.get("LT_BENCH_RESULTS", os.path.join(ROOT, "bench", "results")),
    }
    if s["key_type"] not in ("ec", "ed25519", "rsa"):
        raise BenchError(f"LT_BENCH_KEY_TYPE={s['key_type']}: use ec, ed25519 or rsa")
    return s


def records_for(size, s):
    """Reference records of one size: the record count for small ones, else by volume."""
    if size <= 4 * KIB:
        return s["ref_records"]
    return max(20, s["ref_mib"] * MIB // size)


def docs_for(size, s):
    return max(10, min(s["docs"], s["doc_mib"] * MIB // size))


def human(size):
    if size % MIB == 0:
        return f"{size // MIB} MiB"
    if size % KIB == 0:
        return f"{size // KIB} KiB"
    return f"{size} B"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def run(cmd, timeout=3600, env=None, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(cmd[:3])} ... failed (exit {p.returncode}): "
                         f"{(p.stderr or p.stdout).strip()[-2000:]}")
    return p


def iso_to_epoch(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentiles(values):
    if not values:
        return None
    v = sorted(values)

    def pick(q):
        return v[min(len(v) - 1, max(0, math.ceil(q * len(v)) - 1))]  # nearest rank

    return {"p50_ms": round(pick(0.50) * 1000, 1), "p99_ms": round(pick(0.99) * 1000, 1),
            "max_ms": round(v[-1] * 1000, 1), "count": len(v)}


def p_then_c(prod, cons):
    """Records per second of producing N then consuming N, one after the other."""
    if not prod or not cons:
        return None
    return 1.0 / (1.0 / prod + 1.0 / cons)


class Bench:
    def __init__(self, s):
        self.s = s
        self.work = tempfile.mkdtemp(prefix="lienthong-bench.")
        self.bin = os.path.join(ROOT, s["build"], "bin")
        self.kafka_env = dict(os.environ, LT_KAFKA_PORT=str(s["port"]),
                              LT_KAFKA_DIR=os.path.join(self.work, "kafka"), LT_KAFKA_RESET="1")
        self.kafka_env.pop("LT_KAFKA_PROXY_PORT", None)
        self.kafka_env.pop("LT_KAFKA_TLS_DIR", None)
        self.bootstrap = f"127.0.0.1:{s['port']}"
        self.broker_started = False
        self.agents = []  # Popen of agents started here
        self.tools = None
        self.java = os.environ.get("LT_JAVA") or "java"
        self.seq = 0

    # --- broker and tools -------------------------------------------------------

    def start_broker(self):
        log(f"starting a private broker on {self.bootstrap} (state in {self.work}/kafka)")
        self.broker_started = True
        run([os.path.join(ROOT, "deploy", "kafka.sh"), "start"], env=self.kafka_env, timeout=300)
        self.tools = run([os.path.join(ROOT, "deploy", "kafka.sh"), "fetch-tools"],
                         env=self.kafka_env, timeout=1800).stdout.strip().splitlines()[-1]
        with open(os.path.join(self.work, "tools-log4j.properties"), "w") as f:
            f.write("log4j.rootLogger=WARN, stderr\n"
                    "log4j.appender.stderr=org.apache.log4j.ConsoleAppender\n"
                    "log4j.appender.stderr.Target=System.err\n"
                    "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n"
                    "log4j.appender.stderr.layout.ConversionPattern=%p %m%n\n")

    def stop(self):
        for p in self.agents:
            if p.poll() is None:
                p.terminate()
        for p in self.agents:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.agents = []
        if self.broker_started:
            env = dict(self.kafka_env)
            env.pop("LT_KAFKA_RESET")
            subprocess.run([os.path.join(ROOT, "deploy", "kafka.sh"), "stop"], env=env,
                           capture_output=True, timeout=120)
            self.broker_started = False

    def java_tool(self, cls, args, timeout=3600):
        cmd = [self.java, "-Xms256m", "-Xmx768m",
               f"-Dlog4j.configuration=file:{self.work}/tools-log4j.properties",
               "-cp", os.path.join(self.tools, "*"), cls] + args
        return run(cmd, timeout=timeout).stdout

    def create_topic(self, topic):
        self.java_tool("org.apache.kafka.tools.TopicCommand",
                       ["--bootstrap-server", self.bootstrap, "--create", "--topic", topic,
                        "--partitions", str(self.s["partitions"]), "--replication-factor", "1"])

    # --- 1. reference -----------------------------------------------------------

    def ref_java(self, size, n):
        topic = f"bench.java.{size}"
        self.create_topic(topic)
        out = self.java_tool("org.apache.kafka.tools.ProducerPerformance",
                             ["--topic", topic, "--num-records", str(n), "--record-size",
                              str(size), "--throughput", "-1", "--producer-props",
                              f"bootstrap.servers={self.bootstrap}", "acks=all",
                              "enable.idempotence=true"])
        m = re.findall(r"^(\d+) records sent, ([0-9.]+) records/sec.*99th", out, re.M)
        if not m or int(m[-1][0]) != n:
            raise BenchError(f"ProducerPerformance: no final line for {n} records in:\n{out}")
        prod = float(m[-1][1])
        out = self.java_tool("org.apache.kafka.tools.ConsumerPerformance",
                             ["--bootstrap-server", self.bootstrap, "--topic", topic,
                              "--messages", str(n), "--timeout", "60000"])
        lines = [ln for ln in out.splitlines() if ln.strip()]
        head = [h.strip() for h in lines[-2].split(",")]
        vals = [v.strip() for v in lines[-1].split(",")]
        row = dict(zip(head, vals))
        if int(row.get("data.consumed.in.nMsg", "0")) < n:
            raise BenchError(f"ConsumerPerformance consumed fewer than {n} records:\n{out}")
        # fetch.nMsg.sec: the tool's own rate without its group join (rebalance.time.ms).
        cons = float(row["fetch.nMsg.sec"])
        return {"records": n, "produce_rec_s": round(prod), "consume_rec_s": round(cons),
                "rebalance_ms": int(row.get("rebalance.time.ms", "0"))}

    def ref_kcat(self, size, n):
        topic = f"bench.kcat.{size}"
        self.create_topic(topic)
        # Records of random hex text (no newline inside).
        rec = os.urandom(size).hex()[:size].encode() + b"\n"
        path = os.path.join(self.work, f"records-{size}")
        with open(path, "wb") as f:
            block = rec * max(1, (4 * MIB) // len(rec))
            per = len(block) // len(rec)
            left = n
            while left >= per:
                f.write(block)
                left -= per
            f.write(rec * left)
        with open(os.path.join(self.work, "one"), "wb") as f:
            f.write(rec)
        prod_cmd = ["kcat", "-P", "-b", self.bootstrap, "-t", topic, "-X", "acks=all",
                    "-X", "enable.idempotence=true", "-l"]
        # Start-up (process, metadata, idempotent producer id, flush), timed alone.
        t = time.time()
        run(prod_cmd + [os.path.join(self.work, "one")])
        prod_start = time.time() - t
        t = time.time()
        run(prod_cmd + [path])
        prod_t = time.time() - t
        os.unlink(path)
        cons_cmd = ["kcat", "-C", "-b", self.bootstrap, "-t", topic, "-e", "-q", "-o"]
        t = time.time()
        run(cons_cmd + ["beginning", "-c", "1"])
        cons_start = time.time() - t
        t = time.time()
        with open(os.devnull, "wb") as null:
            p = subprocess.run(cons_cmd + ["beginning", "-c", str(n + 1)], stdout=null,
                               stderr=subprocess.PIPE, timeout=3600)
        cons_t = time.time() - t
        if p.returncode != 0:
            raise BenchError(f"kcat -C failed: {p.stderr.decode(errors='replace')[-2000:]}")
        # Rates net of the start-up timed alone (n + 1 records on the topic: the start-up
        # record first); startup_share says how much was taken off. A start-up timed at
        # half the run or more cannot be told from it (a one-record consume can wait for
        # a fetch longer than 500,000 records take): that rate stays gross, and says so.
        runs = {"produce": (prod_t, prod_start), "consume": (cons_t, cons_start)}
        gross = [d for d, (t, start) in runs.items() if start >= t / 2]
        out = {f"{d}_rec_s": round(n / max(1e-3, t if d in gross else t - start))
               for d, (t, start) in runs.items()}
        return {"records": n, **out,
                "startup_share": round(max(prod_start / prod_t, cons_start / cons_t), 4),
                "gross": gross}

    def reference(self):
        out = {}
        for size in self.s["ref_sizes"]:
            n = records_for(size, self.s)
            log(f"reference {human(size)}: {n} records, Kafka perf tools")
            j = self.ref_java(size, n)
            log(f"reference {human(size)}: {n} records, kcat")
            k = self.ref_kcat(size, n)
            for r in (j, k):
                r["p_then_c_rec_s"] = round(p_then_c(r["produce_rec_s"], r["consume_rec_s"]))
                for key in ("produce", "consume", "p_then_c"):
                    r[f"{key}_mib_s"] = round(r[f"{key}_rec_s"] * size / MIB, 2)
            out[str(size)] = {"size": size, "java": j, "kcat": k}
        return out

    # --- 2. crypto --------------------------------------------------------------

    def crypto(self, pki):
        log("crypto: one core")
        out = run([os.path.join(ROOT, self.s["build"], "bench", "crypto_bench"),
                   os.path.join(pki, "BENCH.A.key"), os.path.join(pki, "BENCH.A.crt"),
                   str(self.s["crypto_seconds"])]).stdout
        return json.loads(out)

    def filesystem(self):
        """The folder target's writes alone, on the disk the agents use: a floor, µs/doc."""
        log("filesystem: the folder target's writes of 1 KiB documents alone; fdatasync")
        out = run([os.path.join(ROOT, self.s["build"], "bench", "fs_bench"),
                   os.path.join(self.work, "fs"), str(self.s["fs_docs"]), "1024"]).stdout
        shutil.rmtree(os.path.join(self.work, "fs"), ignore_errors=True)
        return json.loads(out)

    # --- 3. lienthong end to end ------------------------------------------------

    def pki(self):
        pki = os.path.join(self.work, "pki")
        run([os.path.join(ROOT, "deploy", "pki.sh"), "ca", pki])
        for code in ("BENCH.A", "BENCH.B"):
            cmd = [os.path.join(ROOT, "deploy", "pki.sh"), "agency", pki, code]
            if self.s["key_type"] != "ec":
                cmd.append(self.s["key_type"])
            run(cmd)
        return pki

    def agencies(self, label):
        """A fresh pair of agencies (own stores, topics, target) with running agents."""
        self.seq += 1
        base = os.path.join(self.work, f"e2e-{self.seq}-{label}")
        confs = {}
        for code in ("BENCH.A", "BENCH.B"):
            conf = os.path.join(base, code, "agency.conf")
            run([os.path.join(ROOT, "deploy", "agency-conf.sh"), conf, code, "../../pki",
                 self.bootstrap, f"topic_prefix=bench{os.getpid()}x{self.seq}"] +
                self.s["agent_set"])
            confs[code] = conf
        procs = {}
        for code, conf in confs.items():
            logf = open(os.path.join(os.path.dirname(conf), "agent.log"), "w")
            p = subprocess.Popen([os.path.join(self.bin, "lienthong-agent"), "-c", conf],
                                 cwd=os.path.dirname(conf), stdout=logf,
                                 stderr=subprocess.STDOUT, start_new_session=True)
            logf.close()
            self.agents.append(p)
            procs[code] = p
        deadline = time.time() + 120
        for code, conf in confs.items():
            logp = os.path.join(os.path.dirname(conf), "agent.log")
            while "topics ready" not in open(logp).read():
                if procs[code].poll() is not None or time.time() > deadline:
                    raise BenchError(f"agent {code} did not get ready; its log:\n"
                                     f"{open(logp).read()[-3000:]}")
                time.sleep(0.1)
        return base, confs, procs

    def stop_agents(self, procs):
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            self.agents.remove(p)

    def upload(self, conf, files):
        """Runs lienthong-upload for B; returns (ok, ids, stderr, its CPU seconds)."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.Popen([os.path.join(self.bin, "lienthong-upload"), "-c", conf,
                                  "--to", "BENCH.B"] + files, stdout=out, stderr=err,
                                 cwd=os.path.dirname(conf))
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            ids = [ln.split(b"\t", 1)[0].decode() for ln in out.read().splitlines()]
            return (p.returncode == 0, ids, err.read().decode(errors="replace"),
                    ru.ru_utime + ru.ru_stime)

    def status_json(self, conf, args):
        out = run([os.path.join(self.bin, "lienthong-status"), "-c", conf] + args,
                  timeout=600).stdout
        return [json.loads(ln) for ln in out.splitlines() if ln.strip()]

    def end_to_end(self, size, n):
        label = human(size).replace(" ", "")
        base, confs, procs = self.agencies(label)
        docs = os.path.join(base, "docs")
        os.makedirs(docs)
        files = []
        for i in range(n):
            path = os.path.join(docs, f"d{i:06d}.bin")
            with open(path, "wb") as f:
                f.write(os.urandom(size))
            files.append(path)
        os.sync()  # the documents' own pages are not the first receive batch's to write
        poller = Poller(self, confs["BENCH.A"], self.s["poll_ms"] / 1000.0,
                        {c: p.pid for c, p in procs.items()})
        poller.start()
        try:
            return self._end_to_end(size, n, base, confs, procs, files, poller)
        finally:
            poller.stop()
            self.stop_agents(procs)
            shutil.rmtree(docs, ignore_errors=True)

    def perf_start(self, size, procs):
        """With LT_BENCH_PERF=DIR: perf record -g of each agent over the full-load phase."""
        if not self.s["perf"]:
            return []
        os.makedirs(self.s["perf"], exist_ok=True)
        recs = []
        for code, p in procs.items():
            out = os.path.join(self.s["perf"], f"{code}-{size}.data")
            recs.append(subprocess.Popen(["perf", "record", "-F", "499", "--call-graph",
                                          self.s["perf_callgraph"], "-q", "-o", out, "-p",
                                          str(p.pid)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL))
        time.sleep(0.5)
        return recs

    @staticmethod
    def perf_stop(recs):
        for r in recs:
            r.send_signal(signal.SIGINT)
        for r in recs:
            r.wait(timeout=120)

    def _end_to_end(self, size, n, base, confs, procs, files, poller):
        recs = self.perf_start(size, procs)
        cpu0 = {c: proc_cpu(p.pid) for c, p in procs.items()}
        log(f"lienthong {human(size)}: {n} documents at full load")
        t0 = time.time()
        upload_cpu = 0.0
        ids = set()
        for i in range(0, n, 2000):
            ok, new, err, cpu = self.upload(confs["BENCH.A"], files[i:i + 2000])
            ids.update(new)
            upload_cpu += cpu
            if not ok:
                why = re.search(r"a document may have at most \d+[^\n]*", err)
                if why:
                    return {"size": size, "supported": False, "reason": why.group(0)}
                raise BenchError(f"lienthong-upload failed: {err.strip()[-2000:]}")
        t_sub = time.time()
        t_rcpt = poller.wait_for(n, timeout=max(600, n / 5))
        cpu1 = {c: proc_cpu(p.pid) for c, p in procs.items()}
        self.perf_stop(recs)
        rss = {c: proc_hwm_mib(p.pid) for c, p in procs.items()}
        anon = poller.peak_anon()
        full = self.latencies(confs, poller, ids, n)
        got = len(os.listdir(os.path.join(base, "BENCH.B", "target", "BENCH.A")))
        if got != n:
            raise BenchError(f"{got} documents in B's target folder, {n} expected")
        res = {
            "size": size, "supported": True, "documents": n,
            "submitted_doc_s": round(n / (t_sub - t0), 1),
            "delivered_doc_s": round(n / (full["last_delivered"] - t0), 1),
            "receipted_doc_s": round(n / (t_rcpt - t0), 1),
            "latency_full": {"delivery": full["delivery"], "receipt": full["receipt"]},
            "cpu_s_per_1000": {
                "sender_agent": round((cpu1["BENCH.A"] - cpu0["BENCH.A"]) * 1000 / n, 3),
                "receiver_agent": round((cpu1["BENCH.B"] - cpu0["BENCH.B"]) * 1000 / n, 3),
                "upload": round(upload_cpu * 1000 / n, 3)},
            "peak_rss_mib": {"sender_agent": rss["BENCH.A"], "receiver_agent": rss["BENCH.B"]},
            "peak_rss_anon_mib": {"sender_agent": anon["BENCH.A"],
                                  "receiver_agent": anon["BENCH.B"]},
        }
        res["delivered_mib_s"] = round(res["delivered_doc_s"] * size / MIB, 2)
        res["receipted_mib_s"] = round(res["receipted_doc_s"] * size / MIB, 2)
        # One tenth of the full load: paced submissions for paced_seconds.
        rate = res["delivered_doc_s"] / 10.0
        tick = max(0.1, 1.0 / rate)
        per_tick = max(1, round(rate * tick))
        ticks = max(1, int(self.s["paced_seconds"] / tick))
        m = per_tick * ticks
        log(f"lienthong {human(size)}: {m} documents paced at {rate:.1f}/s")
        # New files: lienthong-upload skips a file it submitted before.
        paced_files = []
        for i in range(m):
            path = os.path.join(base, "docs", f"p{i:06d}.bin")
            with open(path, "wb") as f:
                f.write(os.urandom(size))
            paced_files.append(path)
        os.sync()
        t1 = time.time()
        late = 0
        ids = set()
        for k in range(ticks):
            due = t1 + k * tick
            if time.time() < due:
                time.sleep(due - time.time())
            elif time.time() > due + tick:
                late += 1
            chunk = paced_files[k * per_tick:(k + 1) * per_tick]
            ok, new, err, _ = self.upload(confs["BENCH.A"], chunk)
            ids.update(new)
            if not ok:
                raise BenchError(f"lienthong-upload failed: {err.strip()[-2000:]}")
        poller.wait_for(n + m, timeout=max(600, m))
        paced = self.latencies(confs, poller, ids, n + m)
        res["paced"] = {"rate_doc_s": round(rate, 2), "documents": m, "ticks_late": late,
                        "latency": {"delivery": paced["delivery"],
                                    "receipt": paced["receipt"]}}
        return res

    def latencies(self, confs, poller, ids, total):
        """Latencies of the documents `ids`, `total` documents having been sent so far.

        Delivery: B's record of the delivery (`--received --json` at) minus A's queued_at.
        Receipt: when A's delivered count covered the document (polled), receipts being
        applied in the order B delivered (one partition each way), minus queued_at.
        """
        sent = {d["document_id"]: d for d in self.status_json(confs["BENCH.A"], ["--json"])}
        recv = self.status_json(confs["BENCH.B"], ["--received", "--json"])
        recv = [r for r in recv if r["status"] == "delivered"]
        recv.sort(key=lambda r: (iso_to_epoch(r["at"]), iso_to_epoch(
            sent[r["document_id"]]["queued_at"])))
        if len(recv) != total or not ids <= set(sent):
            raise BenchError(f"B received {len(recv)} documents, {total} expected")
        delivery, receipt, last = [], [], 0.0
        for rank, r in enumerate(recv, 1):
            if r["document_id"] not in ids:
                continue
            q = iso_to_epoch(sent[r["document_id"]]["queued_at"])
            at = iso_to_epoch(r["at"])
            last = max(last, at)
            delivery.append(at - q)
            receipt.append(poller.time_of(rank) - q)
        if len(delivery) != len(ids):
            raise BenchError(f"{len(delivery)} of {len(ids)} documents received by B")
        return {"delivery": percentiles(delivery), "receipt": percentiles(receipt),
                "last_delivered": last}


class Poller(threading.Thread):
    """Polls A's delivered count (`lienthong-status --summary --json`) every interval."""

    def __init__(self, bench, conf, interval, pids):
        super().__init__(daemon=True)
        self.pids = pids  # agency code -> agent pid: own memory (RssAnon) sampled each poll
        self.anon = {c: 0.0 for c in pids}
        self.cmd = [os.path.join(bench.bin, "lienthong-status"), "-c", conf, "--summary",
                    "--json"]
        self.interval = interval
        self.points = []  # (time, delivered), delivered rising
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.error = None

    def run(self):
        while not self.done.is_set():
            t = time.time()
            p = subprocess.run(self.cmd, capture_output=True, text=True)
            if p.returncode != 0:
                self.error = p.stderr.strip()
                return
            d = json.loads(p.stdout)
            with self.lock:
                for c, pid in self.pids.items():
                    self.anon[c] = max(self.anon[c], proc_anon_mib(pid) or 0.0)
                if not self.points or d["delivered"] > self.points[-1][1]:
                    self.points.append((time.time(), d["delivered"]))
                if d["rejected"] or d["failed"]:
                    self.error = f"documents rejected or failed: {p.stdout.strip()}"
                    return
            self.done.wait(max(0.0, self.interval - (time.time() - t)))

    def stop(self):
        self.done.set()
        self.join()

    def peak_anon(self):
        """Each agent's largest RssAnon seen so far, MiB."""
        with self.lock:
            return {c: round(v, 1) for c, v in self.anon.items()}

    def wait_for(self, n, timeout):
        deadline = time.time() + timeout
        while True:
            with self.lock:
                if self.points and self.points[-1][1] >= n:
                    return self.time_of(n)
            if self.error:
                raise BenchError(f"lienthong-status: {self.error}")
            if time.time() > deadline:
                raise BenchError(f"only {self.points[-1][1] if self.points else 0} of {n} "
                                 f"documents delivered after {timeout:.0f} s")
            time.sleep(0.05)

    def time_of(self, k):
        """The first poll that saw at least k documents delivered."""
        for t, c in self.points:
            if c >= k:
                return t
        raise BenchError(f"no poll saw {k} documents delivered")


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_mib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def proc_hwm_mib(pid):
    return proc_status_mib(pid, "VmHWM")


def proc_anon_mib(pid):
    return proc_status_mib(pid, "RssAnon")


def ratio(a, b):
    return round(a / b, 4) if a and b else None


def compare(result):
    """Each lienthong figure against the reference of the same size (large: chunk size)."""
    ref = result["reference"]
    rows = []
    for key, e in result["lienthong"].items():
        if not e.get("supported"):
            continue
        size = e["size"]
        rsize = str(size) if str(size) in ref else str(max(int(k) for k in ref))
        r = ref[rsize]
        large = str(size) not in ref
        for fig, kind in (("submitted", "produce"), ("delivered", "p_then_c"),
                          ("receipted", "p_then_c")):
            if large:  # compare volumes: MiB/s against the chunk-sized records' MiB/s
                v = e[f"{fig}_doc_s"] * size / MIB
                unit, rk, jk = "MiB/s", f"{kind}_mib_s", f"{kind}_mib_s"
            else:
                v, unit, rk, jk = e[f"{fig}_doc_s"], "doc/s", f"{kind}_rec_s", f"{kind}_rec_s"
            rows.append({"size": size, "figure": f"{fig} {unit}", "value": round(v, 2),
                         "reference": f"{kind} of {human(int(rsize))} records",
                         "kcat": r["kcat"][rk], "java": r["java"][jk],
                         "ratio_kcat": ratio(v, r["kcat"][rk]),
                         "ratio_java": ratio(v, r["java"][jk])})
    return rows


def targets(result):
    """The targets of issues 10 and 11, each with this run's figure: printed, never asserted."""
    out = []
    ref = result["reference"]
    for key, e in result["lienthong"].items():
        size = e["size"]
        if not e.get("supported"):
            out.append({"target": f"{human(size)} documents flow", "value": None, "goal": None,
                        "met": False})
            continue
        if size == KIB and str(KIB) in ref:
            v = ratio(e["receipted_doc_s"], ref[str(KIB)]["kcat"]["p_then_c_rec_s"])
            out.append({"target": "1 KiB delivered and receipted doc/s at least 0.1 of kcat "
                        "produce+consume rec/s", "value": v, "goal": 0.1, "met": v >= 0.1})
        p99 = e["paced"]["latency"]["delivery"]["p99_ms"]
        out.append({"target": f"{human(size)} p99 submission to delivery at 1/10 load under "
                    "50 ms", "value": p99, "goal": 50, "met": p99 < 50})
        if str(size) not in ref:
            rsize = str(max(int(k) for k in ref))
            v = ratio(e["receipted_mib_s"], ref[rsize]["java"]["p_then_c_mib_s"])
            out.append({"target": f"{human(size)} MiB/s at least 0.5 of Kafka's tools' "
                        f"produce+consume MiB/s ({human(int(rsize))} records)", "value": v,
                        "goal": 0.5, "met": v >= 0.5})
            peak = max(e["peak_rss_mib"].values())
            out.append({"target": f"{human(size)} each agent's peak RSS under 64 MiB",
                        "value": peak, "goal": 64, "met": peak < 64})
    return out


def large_summary(result):
    """Large documents next to the broker: MiB/s both ways, each agent's peak RSS."""
    ref = result["reference"]
    for e in result["lienthong"].values():
        if not e.get("supported") or str(e["size"]) in ref:
            continue
        r = ref[str(max(int(k) for k in ref))]
        broker = {tool: r[tool]["p_then_c_mib_s"] for tool in ("kcat", "java")}
        return {"size": e["size"], "documents": e["documents"],
                "delivered_mib_s": e["delivered_mib_s"], "receipted_mib_s": e["receipted_mib_s"],
                "broker_record_size": r["size"], "broker_p_then_c_mib_s": broker,
                "ratio": {tool: ratio(e["receipted_mib_s"], v) for tool, v in broker.items()},
                "peak_rss_mib": e["peak_rss_mib"], "rss_bound_mib": 64}
    return None


def table(result):
    out = []
    s = result["settings"]
    out.append(f"lienthong benchmark, {result['date']} on {result['host']} "
               f"({result['machine']['cores']} cores, shared: figures are noisy), "
               f"commit {result['commit']}, mode {s['mode']}")
    out.append("")
    out.append(f"Reference on the same broker (acks=all, idempotent, {s['partitions']} "
               "partition(s)); records/s and MiB/s")
    out.append(f"{'size':>8}  {'tool':<5} {'records':>8} {'produce':>18} {'consume':>18} "
               f"{'produce+consume':>18}")
    for r in result["reference"].values():
        for tool in ("kcat", "java"):
            x = r[tool]
            cells = [f"{x[k + '_rec_s']:>9,} {x[k + '_mib_s']:>8.1f}"
                     for k in ("produce", "consume", "p_then_c")]
            out.append(f"{human(r['size']):>8}  {tool:<5} {x['records']:>8} " + " ".join(cells) +
                       (f"  (start-up {x['startup_share']:.1%} of the run, taken off"
                        + "".join(f"; {d} rate gross: start-up too large to tell from it"
                                  for d in x.get("gross", [])) + ")"
                        if tool == "kcat" else ""))
    c = result["crypto"]
    out.append("")
    out.append(f"Crypto, one core: {c['algorithm']} {c['sign_per_s']:,} signatures/s, "
               f"{c['verify_per_s']:,} verifications/s; SHA-256 {c['sha256_mib_s']:,} MiB/s")
    fs = result["filesystem"]
    out.append(f"Filesystem, the folder target's writes alone ({fs['documents']} documents of "
               f"{human(fs['bytes'])}, a syncfs per {fs['batch']}): CPU {fs['fresh']['cpu_us_per_doc']} µs, "
               f"wall {fs['fresh']['wall_us_per_doc']} µs per document; right after deleting "
               f"as many: CPU {fs['after_delete']['cpu_us_per_doc']} µs, wall "
               f"{fs['after_delete']['wall_us_per_doc']} µs")
    d = fs["fdatasync_4k"]
    out.append(f"Disk: fdatasync of 4 KiB ({d['count']} times, 5 ms apart): p50 {d['p50_ms']} "
               f"p99 {d['p99_ms']} p99.9 {d['p999_ms']} max {d['max_ms']} ms; "
               f"{d['over_50_ms']} over 50 ms (each document waits for three syncs or more)")
    out.append("")
    out.append("lienthong end to end (A uploads for B, delivered to B's folder, receipt at A)")
    for e in result["lienthong"].values():
        if not e.get("supported"):
            out.append(f"{human(e['size']):>8}  not supported by this build")
            continue
        f, p = e["latency_full"], e["paced"]["latency"]
        out.append(f"{human(e['size']):>8}  {e['documents']} documents: submitted "
                   f"{e['submitted_doc_s']:,} doc/s, delivered {e['delivered_doc_s']:,} doc/s "
                   f"({e['delivered_mib_s']} MiB/s), receipted {e['receipted_doc_s']:,} doc/s")
        for name, lat in (("full load", f), (f"1/10 load ({e['paced']['rate_doc_s']} doc/s)",
                                             p)):
            out.append(f"{'':>10}latency at {name}: delivery p50 {lat['delivery']['p50_ms']} "
                       f"p99 {lat['delivery']['p99_ms']} max {lat['delivery']['max_ms']} ms; "
                       f"receipt p50 {lat['receipt']['p50_ms']} p99 {lat['receipt']['p99_ms']} "
                       f"max {lat['receipt']['max_ms']} ms")
        cpu, rss = e["cpu_s_per_1000"], e["peak_rss_mib"]
        out.append(f"{'':>10}CPU s per 1,000 documents: sender agent {cpu['sender_agent']}, "
                   f"receiver agent {cpu['receiver_agent']}, lienthong-upload {cpu['upload']}; "
                   f"peak RSS MiB: sender {rss['sender_agent']}, receiver "
                   f"{rss['receiver_agent']} (own memory, RssAnon: "
                   f"{e['peak_rss_anon_mib']['sender_agent']}, "
                   f"{e['peak_rss_anon_mib']['receiver_agent']})")
    out.append("")
    out.append("Ratios: lienthong / reference of this run")
    out.append(f"{'size':>8}  {'figure':<20} {'value':>10} {'kcat':>10} {'ratio':>7} "
               f"{'java':>10} {'ratio':>7}  reference")
    for r in result["ratios"]:
        out.append(f"{human(r['size']):>8}  {r['figure']:<20} {r['value']:>10,} "
                   f"{r['kcat']:>10,} {r['ratio_kcat']:>7} {r['java']:>10,} "
                   f"{r['ratio_java']:>7}  {r['reference']}")
    big = result.get("large")
    if big:
        out.append("")
        out.append(f"Large documents: {big['documents']} of {human(big['size'])}, receipted "
                   f"{big['receipted_mib_s']} MiB/s; broker produce+consume of "
                   f"{human(big['broker_record_size'])} records: kcat "
                   f"{big['broker_p_then_c_mib_s']['kcat']} MiB/s (ratio {big['ratio']['kcat']}),"
                   f" java {big['broker_p_then_c_mib_s']['java']} MiB/s (ratio "
                   f"{big['ratio']['java']}); peak RSS MiB: sender "
                   f"{big['peak_rss_mib']['sender_agent']}, receiver "
                   f"{big['peak_rss_mib']['receiver_agent']} (bound {big['rss_bound_mib']})")
    out.append("")
    out.append("Targets (issues 10 and 11; printed, not asserted)")
    for t in result["targets"]:
        out.append(f"  {'met    ' if t['met'] else 'not met'}  {t['target']}: {t['value']}")
    return "\n".join(out)


def git_commit():
    p = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (p.stdout.strip() or "unknown") + ("-dirty" if dirty else "")


def write_result(result, folder):
    os.makedirs(folder, exist_ok=True)
    stamp = result["date"].replace(":", "").replace("-", "")
    name = f"{stamp}-{result['host']}{'-quick' if result['settings']['mode'] == 'quick' else ''}"
    path = os.path.join(folder, f"{name}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return path


def main():
    try:
        s = settings()
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    for tool in ("kcat", os.environ.get("LT_JAVA") or "java"):
        if not shutil.which(tool):
            print(f"bench: {tool} not found; run deploy/install-deps.sh", file=sys.stderr)
            return 1
    b = Bench(s)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ok = False
    try:
        result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"), "host": socket.gethostname(), "commit": git_commit(),
            "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                        "shared": True},
            "settings": {k: v for k, v in s.items() if k not in ("build", "results")}}
        b.start_broker()
        pki = b.pki()
        result["crypto"] = b.crypto(pki)
        result["reference"] = b.reference()
        result["lienthong"] = {}
        for size in s["doc_sizes"] + [s["large_size"]]:
            n = s["large_docs"] if size == s["large_size"] else docs_for(size, s)
            e = b.end_to_end(size, n)
            result["lienthong"][str(size)] = e
            if not e["supported"]:
                print(f"{human(size)}: not supported by this build ({e['reason']})",
                      file=sys.stderr)
        # Last: it frees 40,000 inodes, which ext4 without a journal skips for a minute
        # or more when it allocates (the receiver's folders would pay for them).
        result["filesystem"] = b.filesystem()
        result["ratios"] = compare(result)
        result["large"] = large_summary(result)
        result["targets"] = targets(result)
        path = write_result(result, s["results"])
        print(table(result))
        print(f"\nresults: {path}")
        ok = True
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
    finally:
        b.stop()
        if ok and not s["keep"]:
            shutil.rmtree(b.work, ignore_errors=True)
        else:
            print(f"bench: logs kept in {b.work}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
