#!/opt/venv/bin/python
"""Renders llama.cpp's models/templates/google-gemma-4-31B-it.jinja with Jinja2 for the tool cases
of chat_template_test.cc and writes chat_tool_cases.json (committed; the C++ test does not need
Python). Usage: make_chat_tool_cases.py TEMPLATE.jinja > chat_tool_cases.json

Jinja is set up as transformers sets up chat templates (trim_blocks, lstrip_blocks); bos_token is
empty because ApplyChatTemplate leaves <bos> to the tokenizer."""
import json
import sys

import jinja2.sandbox

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "nullable": True},
        "tags": {"type": "array", "items": {"type": "string"}},
        "where": {"type": "object", "description": "A point",
                  "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                  "required": ["lat", "lon"]},
        "stops": {"type": "array", "items": {"type": "object",
                  "properties": {"Name": {"type": "string"}}, "required": ["Name"]}},
    }, "required": ["city"]}}}
NOARGS = {"type": "function", "function": {"name": "now", "description": "The time",
                                           "parameters": {"type": "object", "properties": {}}}}
CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {
    "city": "Paris", "days": 3, "metric": True, "where": {"lat": 48.85, "lon": 2.35},
    "tags": ["a", "b"], "Zeta": None}}}
CALL2 = {"id": "c2", "type": "function", "function": {"name": "now", "arguments": {}}}

CASES = {
    "declarations": dict(messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER, NOARGS]),
    "declarations_with_system_and_thinking": dict(
        messages=[{"role": "system", "content": " Be brief. "}, {"role": "user", "content": "Hi"}],
        tools=[NOARGS], enable_thinking=True),
    "call_without_response": dict(
        messages=[{"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": None, "tool_calls": [CALL]}], tools=[WEATHER]),
    "call_and_response_continues_turn": dict(
        messages=[{"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": None, "tool_calls": [CALL]},
                  {"role": "tool", "tool_call_id": "c1", "content": "Sunny, 21 C"}], tools=[WEATHER]),
    "two_calls_matched_by_id": dict(
        messages=[{"role": "user", "content": "Both"},
                  {"role": "assistant", "content": "", "tool_calls": [CALL, CALL2]},
                  {"role": "tool", "tool_call_id": "c2", "content": "12:00"},
                  {"role": "tool", "tool_call_id": "c1", "content": "Rain"}], tools=[WEATHER, NOARGS]),
    "answer_after_response_then_next_user": dict(
        messages=[{"role": "user", "content": "Weather?"},
                  {"role": "assistant", "content": None, "tool_calls": [CALL]},
                  {"role": "tool", "tool_call_id": "c1", "content": "Sunny"},
                  {"role": "assistant", "content": "It is sunny."},
                  {"role": "user", "content": "Thanks"}], tools=[WEATHER]),
    "reasoning_rendered_after_last_user": dict(
        messages=[{"role": "user", "content": "Weather?"},
                  {"role": "assistant", "content": None, "reasoning_content": "Need the tool.",
                   "tool_calls": [CALL]},
                  {"role": "tool", "tool_call_id": "c1", "content": "Sunny"}],
        tools=[WEATHER], enable_thinking=True),
    "string_arguments_verbatim": dict(
        messages=[{"role": "user", "content": "x"},
                  {"role": "assistant", "tool_calls": [{"function": {"name": "now", "arguments": "raw text"}}]},
                  {"role": "tool", "name": "now", "content": "done"}], tools=[NOARGS]),
    "tool_message_without_call_is_dropped": dict(
        messages=[{"role": "user", "content": "x"}, {"role": "tool", "content": "orphan"}]),
}


def main():
    source = open(sys.argv[1]).read()
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(source)
    out = []
    for name, case in CASES.items():
        kwargs = dict(messages=case["messages"], bos_token="", add_generation_prompt=True)
        if "tools" in case:
            kwargs["tools"] = case["tools"]
        if case.get("enable_thinking"):
            kwargs["enable_thinking"] = True
        out.append(dict(name=name, messages=case["messages"], tools=case.get("tools"),
                        enable_thinking=bool(case.get("enable_thinking")),
                        expected=template.render(**kwargs)))
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
