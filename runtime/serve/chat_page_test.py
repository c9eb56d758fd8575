"""The chat page at `/` in headless Chromium, driven over the DevTools protocol (a pipe: JSON
messages ended by NUL on fds 3/4, no extra package). Checks that the page streams an answer, shows
the model's thinking folded in a <details>, and that its stop button aborts a running answer and
the server cancels that generation. Writes OUTDIR/chat.png (screenshot) and OUTDIR/chat.html.
Exits 77 (ctest skip) when Chromium is not installed (scripts/setup.sh installs it).

Usage: chat_page_test.py G4SERVE PLAN_DIR MODEL.gguf OUTDIR
"""
import base64
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

G4SERVE, PLAN, MODEL, OUT = sys.argv[1:5]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    print("skipped: no chromium on PATH")
    sys.exit(77)
os.makedirs(OUT, exist_ok=True)

THOUGHT = "The user says hello; answer kindly."
ANSWER = "Hello! I am a tiny random model, served by g4serve."


def start_server(name, *extra):
    log = open(os.path.join(OUT, name + ".log"), "w+")
    proc = subprocess.Popen([G4SERVE, PLAN, "--model", MODEL, "--port", "0", *extra], stderr=log)
    for _ in range(600):
        log.seek(0)
        m = re.search(r"http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            return proc, "http://127.0.0.1:" + m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    log.seek(0)
    sys.exit("g4serve did not start: " + log.read())


class Browser:
    """Chromium with --remote-debugging-pipe; one page target in flat session mode."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="g4serve-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        # The child reads commands on fd 3 and writes replies on fd 4 (moved out of the way first,
        # in case a pipe end already is 3 or 4; dup2 leaves the targets open across exec).
        def fds():
            r, w = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 100), fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 100)
            os.dup2(r, 3)
            os.dup2(w, 4)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-pipe",
             "--user-data-dir=" + self.profile, "--window-size=900,640", "about:blank"],
            preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(OUT, "chromium.log"), "w"))
        os.close(to_child_r)
        os.close(from_child_w)
        self.buffer = b""
        self.next_id = 0
        self.session = None

    def call(self, method, session=True, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                data = os.read(self.from_child, 1 << 16)
                if not data:
                    raise RuntimeError("chromium closed the pipe")
                self.buffer += data
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})

    def open(self, url):
        target = self.call("Target.createTarget", session=False, url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", session=False, targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Page.navigate", url=url)

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r.get("result", {}).get("value")

    def wait(self, expression, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.js(expression):
                return
            time.sleep(0.02)
        html = self.js("document.documentElement.outerHTML") or ""
        open(os.path.join(OUT, "failed.html"), "w").write(html)
        sys.exit("FAIL: timed out waiting for %s (DOM in %s/failed.html)" % (what, OUT))

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except RuntimeError:
            pass
        self.proc.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)


def metric(url, name):
    text = urllib.request.urlopen(url + "/metrics").read().decode()
    return float(re.search(r"^%s (\S+)$" % name, text, re.M).group(1))


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)


def main():
    scripted, scripted_url = start_server(
        "g4serve-scripted", "--test_scripted_output", "<|channel>thought\n%s<channel|>%s<turn|>" % (THOUGHT, ANSWER))
    plain, plain_url = start_server("g4serve-plain")
    browser = Browser()
    try:
        # 1. A message with thinking on: the answer streams in, the thoughts sit folded above it.
        browser.open(scripted_url + "/?q=Hello%20there&think=1")
        browser.wait("!!document.querySelector('.assistant') && !document.getElementById('send').disabled",
                     "the answer to finish")
        answer = browser.js("document.querySelector('.assistant > div').textContent")
        thought = browser.js("document.querySelector('.assistant details > div').textContent")
        folded = browser.js("!document.querySelector('.assistant details').open")
        check(browser.js("document.querySelector('.user').textContent") == "Hello there", "the user's message is shown")
        check(answer == ANSWER, "the answer is shown (got %r)" % answer)
        check(thought == THOUGHT, "the thinking is shown (got %r)" % thought)
        check(folded, "the thinking is folded")
        png = browser.call("Page.captureScreenshot", format="png")["data"]
        with open(os.path.join(OUT, "chat.png"), "wb") as f:
            f.write(base64.b64decode(png))
        with open(os.path.join(OUT, "chat.html"), "w") as f:
            f.write(browser.js("document.documentElement.outerHTML"))

        # 2. The stop button: a long answer from the random model is aborted after its first text,
        # and the server cancels that generation and frees the slot.
        browser.open(plain_url + "/?q=Talk%20for%20a%20long%20time&max_tokens=1000&ignore_eos=1")
        browser.wait("(document.querySelector('.assistant > div') || {}).textContent", "the first streamed text")
        browser.js("document.getElementById('stop').click()")
        browser.wait("document.getElementById('status').textContent === 'stopped'", "the page to say stopped")
        deadline = time.time() + 30
        while metric(plain_url, "g4serve_cancelled_total") < 1 and time.time() < deadline:
            time.sleep(0.05)
        check(metric(plain_url, "g4serve_cancelled_total") == 1, "the server cancelled the generation")
        check(metric(plain_url, "g4serve_completion_tokens_total") < 1000, "generation stopped early")
    finally:
        browser.close()
        for proc in (scripted, plain):
            proc.terminate()
        codes = [p.wait(timeout=60) for p in (scripted, plain)]
    check(codes == [0, 0], "g4serve exits 0 on SIGTERM (got %s)" % codes)
    print("screenshot:", os.path.join(OUT, "chat.png"))


if __name__ == "__main__":
    main()
