"""The official `openai` Python client drives g4serve end to end: chat, streaming, tool calls,
completions, models and an error. Optional: exits 77 (ctest SKIP_RETURN_CODE) when the `openai`
package is not importable.

Usage: openai_client_test.py G4SERVE PLAN_DIR MODEL.gguf
"""
import json
import re
import subprocess
import sys
import unittest

try:
    import openai
except ImportError:
    print("skipped: the 'openai' package is not importable by", sys.executable)
    sys.exit(77)

G4SERVE, PLAN, MODEL = sys.argv[1:4]
del sys.argv[1:4]

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


class Server:
    """g4serve on a free port of 127.0.0.1; stopped with SIGTERM (it must exit 0)."""

    def __init__(self, *extra):
        self.proc = subprocess.Popen([G4SERVE, PLAN, "--model", MODEL, "--port", "0", "--slots", "2", *extra],
                                     stderr=subprocess.PIPE, text=True)
        banner = self.proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", banner)
        if not m:
            self.proc.kill()
            raise RuntimeError("g4serve did not start: " + banner + self.proc.stderr.read())
        self.url = "http://127.0.0.1:%s/v1" % m.group(1)

    def client(self, key="none"):
        return openai.OpenAI(base_url=self.url, api_key=key, max_retries=0)

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=60)
        self.proc.stderr.close()
        return rc


class OpenAIClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plain = Server()
        cls.tools = Server("--test_scripted_output",
                           '<|tool_call>call:get_weather{city:<|"|>Paris<|"|>}<tool_call|><|tool_response>')
        cls.thinking = Server("--test_scripted_output", "<|channel>thought\nHmm.<channel|>Hello!<turn|>")

    @classmethod
    def tearDownClass(cls):
        for s in (cls.plain, cls.tools, cls.thinking):
            assert s.stop() == 0, "g4serve did not exit 0 on SIGTERM"

    def test_models(self):
        models = self.plain.client().models.list()
        self.assertEqual([m.id for m in models.data], [MODEL.rsplit("/", 1)[-1]])

    def test_chat_and_stream_agree(self):
        c = self.plain.client()
        msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
        r = c.chat.completions.create(model=self.models_id(), messages=msgs, max_tokens=10, temperature=0)
        self.assertEqual(r.object, "chat.completion")
        self.assertEqual(r.choices[0].message.role, "assistant")
        self.assertIn(r.choices[0].finish_reason, ("stop", "length"))
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens)
        parts, finish = [], None
        for chunk in c.chat.completions.create(model=self.models_id(), messages=msgs, max_tokens=10, temperature=0,
                                               stream=True):
            self.assertEqual(chunk.object, "chat.completion.chunk")
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
        self.assertEqual("".join(parts), r.choices[0].message.content)
        self.assertEqual(finish, r.choices[0].finish_reason)

    def test_completions(self):
        r = self.plain.client().completions.create(model=self.models_id(), prompt="Once upon a time", max_tokens=5,
                                                   temperature=0)
        self.assertEqual(r.object, "text_completion")
        self.assertEqual(r.usage.completion_tokens, 5)

    def test_tool_calls(self):
        r = self.tools.client().chat.completions.create(
            model=self.models_id(), messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER])
        self.assertEqual(r.choices[0].finish_reason, "tool_calls")
        call = r.choices[0].message.tool_calls[0]
        self.assertEqual(call.type, "function")
        self.assertEqual(call.function.name, "get_weather")
        self.assertEqual(json.loads(call.function.arguments), {"city": "Paris"})
        # The call and its result go back as the next turn's history.
        follow = self.tools.client().chat.completions.create(
            model=self.models_id(), tools=[WEATHER], max_tokens=1,
            messages=[{"role": "user", "content": "Weather in Paris?"}, r.choices[0].message.model_dump(exclude_none=True),
                      {"role": "tool", "tool_call_id": call.id, "content": "18 C"}])
        self.assertGreater(follow.usage.prompt_tokens, r.usage.prompt_tokens)

    def test_reasoning_content(self):
        r = self.thinking.client().chat.completions.create(
            model=self.models_id(), messages=[{"role": "user", "content": "Hi"}], reasoning_effort="high")
        self.assertEqual(r.choices[0].message.content, "Hello!")
        self.assertEqual(r.choices[0].message.model_extra.get("reasoning_content"), "Hmm.")

    def test_errors(self):
        with self.assertRaises(openai.NotFoundError) as e:
            self.plain.client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
        self.assertEqual(e.exception.status_code, 404)
        with self.assertRaises(openai.BadRequestError):
            self.plain.client().chat.completions.create(model=self.models_id(), messages=[{"role": "robot", "content": "x"}])

    def models_id(self):
        return MODEL.rsplit("/", 1)[-1]


if __name__ == "__main__":
    unittest.main(verbosity=2)
