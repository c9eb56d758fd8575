#!/usr/bin/python3
"""Load test for an OpenAI-compatible server (g4serve or llama-server): C concurrent clients send
R streamed chat requests in all, each a short conversation opening with its own user text, and the
script reports latency percentiles (time to first content byte and to the end), total generated
tokens per second of wall time, and every request that failed (none may be lost).

  bench/serve_load.py URL [--clients 8] [--requests 200] [--max-tokens 32] [--label NAME] [--json]

Standard library only (http.client, threads), so it runs with the system python3.
"""
import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

TOPICS = ["cats", "the sea", "trains", "bread", "rain", "chess", "music", "maps", "stars", "tea"]


def one_request(host, port, i, max_tokens):
    """One streamed chat request; returns (ttft_s, total_s, completion_tokens) or raises."""
    body = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Request %d: tell me about %s." % (i, TOPICS[i % len(TOPICS)])}],
            "max_tokens": max_tokens, "temperature": 0.8, "seed": i, "stream": True,
            "stream_options": {"include_usage": True}}
    conn = http.client.HTTPConnection(host, port, timeout=600)
    t0 = time.monotonic()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("HTTP %d: %s" % (resp.status, resp.read()[:200]))
    ttft, tokens, chunks, done = None, None, 0, False
    for raw in resp:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            done = True
            break
        chunk = json.loads(data)
        if "error" in chunk:
            raise RuntimeError("error chunk: %s" % data[:200])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content") or delta.get("reasoning_content"):
                chunks += 1
                if ttft is None:
                    ttft = time.monotonic() - t0
        if chunk.get("usage"):
            tokens = chunk["usage"].get("completion_tokens")
    total = time.monotonic() - t0
    conn.close()
    if not done:
        raise RuntimeError("stream ended without [DONE]")
    return (ttft if ttft is not None else total), total, (tokens if tokens is not None else chunks)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--label", default="")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    host, port = u.hostname, u.port or 80

    next_i = [0]
    lock = threading.Lock()
    results, failures = [], []

    def client():
        while True:
            with lock:
                i = next_i[0]
                if i >= a.requests:
                    return
                next_i[0] += 1
            try:
                r = one_request(host, port, i, a.max_tokens)
                with lock:
                    results.append(r)
            except Exception as e:  # a lost request is reported, never hidden
                with lock:
                    failures.append((i, repr(e)))

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0

    ttft = [r[0] for r in results]
    lat = [r[1] for r in results]
    tokens = sum(r[2] for r in results)
    out = {"label": a.label, "url": a.url, "clients": a.clients, "requests": a.requests, "ok": len(results),
           "failed": len(failures), "wall_s": round(wall, 3), "completion_tokens": tokens,
           "tok_per_s": round(tokens / wall, 1) if wall > 0 else 0.0}
    if results:
        for name, v in (("ttft", ttft), ("latency", lat)):
            out[name + "_ms"] = {"p50": round(1e3 * pct(v, 50), 1), "p90": round(1e3 * pct(v, 90), 1),
                                 "p99": round(1e3 * pct(v, 99), 1), "mean": round(1e3 * statistics.mean(v), 1)}
    if a.json:
        print(json.dumps(out))
    else:
        print("%s %s: %d clients, %d/%d ok, %d failed, %.2f s wall, %d tokens, %.1f tok/s" %
              (a.label, a.url, a.clients, len(results), a.requests, len(failures), wall, tokens, out["tok_per_s"]))
        if results:
            for name in ("ttft_ms", "latency_ms"):
                m = out[name]
                print("  %-10s p50 %8.1f  p90 %8.1f  p99 %8.1f  mean %8.1f" % (name, m["p50"], m["p90"], m["p99"], m["mean"]))
    for i, e in failures[:10]:
        print("  request %d failed: %s" % (i, e), file=sys.stderr)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
