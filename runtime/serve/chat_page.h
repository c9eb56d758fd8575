// The chat page g4serve serves at `/`: plain HTML + JS, no build step. It streams answers from
// /v1/chat/completions (SSE), shows the model's thinking folded in a <details>, and has a stop
// button that aborts the request (the server then cancels the generation and frees the slot).
#ifndef GEMMA4C_RUNTIME_SERVE_CHAT_PAGE_H_
#define GEMMA4C_RUNTIME_SERVE_CHAT_PAGE_H_

namespace g4::serve {

inline constexpr char kChatPage[] = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>g4serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;background:#fafafa}
#log .msg{margin:.6rem 0;padding:.6rem .8rem;border-radius:.5rem;white-space:pre-wrap}
.user{background:#dbeafe}.assistant{background:#fff;border:1px solid #ddd}
details{color:#555;font-size:.9em;margin-bottom:.3rem}
form{display:flex;gap:.5rem;margin-top:1rem}textarea{flex:1;height:3.5rem}
#status{color:#666;font-size:.85em}
</style></head><body>
<h1>g4serve</h1>
<div id="log"></div>
<form id="form"><textarea id="input" placeholder="Message"></textarea>
<div><label><input type="checkbox" id="think"> think</label><br>
<button id="send" type="submit">Send</button> <button id="stop" type="button" disabled>Stop</button></div></form>
<div id="status"></div>
<script>
const messages = [];
let controller = null;
const params = new URLSearchParams(location.search);
const maxTokens = params.get('max_tokens') ? Number(params.get('max_tokens')) : undefined;
const ignoreEos = params.get('ignore_eos') === '1' ? true : undefined;
const $ = (id) => document.getElementById(id);
function bubble(role) {
  const div = document.createElement('div');
  div.className = 'msg ' + role;
  $('log').appendChild(div);
  return div;
}
async function send(text) {
  messages.push({role: 'user', content: text});
  bubble('user').textContent = text;
  const div = bubble('assistant');
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = 'thinking';
  const thoughts = document.createElement('div');
  details.append(summary, thoughts);
  details.style.display = 'none';
  const answer = document.createElement('div');
  div.append(details, answer);
  controller = new AbortController();
  $('stop').disabled = false; $('send').disabled = true;
  let content = '';
  try {
    const res = await fetch('/v1/chat/completions', {method: 'POST', signal: controller.signal,
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({messages, stream: true, thinking: $('think').checked,
                            max_tokens: maxTokens, ignore_eos: ignoreEos})});
    if (!res.ok) { answer.textContent = (await res.json()).error.message; return; }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const line = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        if (!line.startsWith('data: ')) continue;
        const data = line.slice(6);
        if (data === '[DONE]') continue;
        const chunk = JSON.parse(data);
        if (chunk.error) { answer.textContent += '\n[' + chunk.error.message + ']'; continue; }
        const delta = chunk.choices[0].delta || {};
        if (delta.reasoning_content) { details.style.display = ''; thoughts.textContent += delta.reasoning_content; }
        if (delta.content) { content += delta.content; answer.textContent = content; }
        if (chunk.timings) $('status').textContent = chunk.usage.completion_tokens + ' tokens, ' +
            chunk.timings.predicted_per_second.toFixed(1) + ' tok/s';
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') answer.textContent += '\n[' + e + ']';
    else $('status').textContent = 'stopped';
  } finally {
    messages.push({role: 'assistant', content});
    controller = null;
    $('stop').disabled = true; $('send').disabled = false;
  }
}
$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('input').value.trim();
  if (text && !controller) { $('input').value = ''; send(text); }
});
$('stop').addEventListener('click', () => controller && controller.abort());
// /?q=TEXT[&think=1] sends TEXT at once (links, and the headless-browser test);
// &max_tokens=N caps every answer; &ignore_eos=1 never ends one early (the stop-button test).
if (params.get('q')) { $('think').checked = params.get('think') === '1'; send(params.get('q')); }
</script></body></html>
)html";

}  // namespace g4::serve

#endif  // GEMMA4C_RUNTIME_SERVE_CHAT_PAGE_H_
