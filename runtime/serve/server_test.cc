// g4serve against a live server on 127.0.0.1 (in this process, any free port) over the tiny
// synthetic tiny-e2b model (random weights, a real 1024-token BPE vocabulary with Gemma 4's
// special tokens), made by the serve.setup ctest fixture. Expectations are independent of the
// server: greedy answers are decoded here with exec::Session and a hand-written argmax, prompt
// lengths come from the chat template and tokenizer, cached prefixes from the token lists.
#include "serve/server.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gguf/gguf.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "text/chat_template.h"
#include "text/chat_tools.h"
#include "text/tokenizer.h"

extern char** environ;

namespace g4::serve {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kPlan[] = G4SERVE_TEST_PLAN;
constexpr char kModel[] = G4SERVE_TEST_MODEL;

// A server running on its own thread; shut down and joined when destroyed.
class LiveServer {
 public:
  explicit LiveServer(ServerOptions options) {
    options.plan_dir = kPlan;
    options.model_path = kModel;
    options.host = "127.0.0.1";
    options.port = 0;
    auto server = Server::Create(options);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return;
    server_ = std::move(*server);
    auto port = server_->Bind();
    EXPECT_TRUE(port.ok()) << port.status();
    port_ = port.ok() ? *port : -1;
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~LiveServer() {
    if (server_) server_->Shutdown();
    if (thread_.joinable()) thread_.join();
  }
  Server& server() { return *server_; }
  int port() const { return port_; }
  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(120, 0);
    return c;
  }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = -1;
};

struct Reply {
  int status = -1;
  json body;
  std::string raw;
};

Reply Post(const LiveServer& s, const std::string& path, const std::string& body, httplib::Headers headers = {}) {
  auto r = s.Client()->Post(path.c_str(), headers, body, "application/json");
  Reply out;
  if (!r) return out;
  out.status = r->status;
  out.raw = r->body;
  out.body = json::parse(r->body, nullptr, false);
  return out;
}
Reply Post(const LiveServer& s, const std::string& path, const json& body) { return Post(s, path, body.dump()); }

Reply Get(const LiveServer& s, const std::string& path) {
  auto r = s.Client()->Get(path.c_str());
  Reply out;
  if (!r) return out;
  out.status = r->status;
  out.raw = r->body;
  out.body = json::parse(r->body, nullptr, false);
  return out;
}

// A streamed request: every SSE event's data, in order. `on_event` false: disconnect.
struct Stream {
  int status = -1;
  std::string content_type;
  std::vector<std::string> events;
  bool complete = false;  // ended with a well-formed [DONE]
};
Stream PostStream(const LiveServer& s, const json& body, const std::string& path = "/v1/chat/completions",
                  std::function<bool(const std::string&)> on_event = nullptr) {
  Stream out;
  std::string buffer;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.response_handler = [&](const httplib::Response& r) {
    out.status = r.status;
    out.content_type = r.get_header_value("Content-Type");
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buffer.append(data, n);
    size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      EXPECT_THAT(event, StartsWith("data: "));
      out.events.push_back(event.substr(6));
      if (on_event && !on_event(out.events.back())) return false;
    }
    return true;
  };
  auto client = s.Client();
  client->send(req);
  out.complete = !out.events.empty() && out.events.back() == "[DONE]" && buffer.empty();
  return out;
}

// What JSON text carries of a string the model wrote (invalid UTF-8 becomes U+FFFD).
std::string AsJsonCarries(const std::string& s) {
  return json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

// The model, tokenizer and template outside the server: the independent expectation.
class Reference {
 public:
  Reference() {
    auto file = gguf::GgufFile::Open(kModel);
    EXPECT_TRUE(file.ok()) << file.status();
    auto tokenizer = text::Tokenizer::FromGguf(**file);
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = std::move(*tokenizer);
  }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }

  std::vector<int32_t> ChatPrompt(const json& messages, bool thinking = false, const json& tools = json()) const {
    auto parsed = text::ChatMessagesFromJson(messages);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    text::ChatTemplateOptions options;
    options.enable_thinking = thinking;
    options.tools = tools;
    auto prompt = text::ApplyChatTemplate(*parsed, options);
    EXPECT_TRUE(prompt.ok()) << prompt.status();
    return tokenizer_->Encode(*prompt, /*add_bos=*/true, /*parse_special=*/true);
  }

  // Greedy decoding of `prompt` (argmax, lowest id on ties), stopping at <eos>, <turn|> or
  // <|tool_response>: the decoded text and the number of tokens generated.
  std::pair<std::string, int> Greedy(const std::vector<int32_t>& prompt, int max_tokens) const {
    exec::SessionOptions options;
    options.threads = 1;
    auto session = exec::Session::Open(kPlan, kModel, options);
    EXPECT_TRUE(session.ok()) << session.status();
    EXPECT_TRUE((*session)->Eval(prompt).ok());
    std::vector<int32_t> out;
    const int32_t stops[] = {1, 106, tokenizer_->FindToken("<|tool_response>")};
    for (int i = 0; i < max_tokens; ++i) {
      const int64_t vocab = (*session)->vocab();
      const float* logits = (*session)->logits() + ((*session)->logits_rows() - 1) * vocab;
      int32_t best = 0;
      for (int32_t v = 1; v < vocab; ++v) {
        if (logits[v] > logits[best]) best = v;
      }
      if (std::find(std::begin(stops), std::end(stops), best) != std::end(stops)) break;
      out.push_back(best);
      if (i + 1 < max_tokens) EXPECT_TRUE((*session)->Eval({best}).ok());
    }
    return {tokenizer_->Decode(out), int(out.size())};
  }

 private:
  std::unique_ptr<text::Tokenizer> tokenizer_;
};

const Reference& Ref() {
  static const Reference* ref = new Reference();
  return *ref;
}

size_t CommonPrefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

// One value from the Prometheus text.
double Metric(const LiveServer& s, const std::string& name) {
  const Reply r = Get(s, "/metrics");
  for (absl::string_view line : absl::StrSplit(r.raw, '\n')) {
    if (absl::StartsWith(line, name + " ")) return std::stod(std::string(line.substr(name.size() + 1)));
  }
  ADD_FAILURE() << "no metric " << name << " in:\n" << r.raw;
  return -1;
}

// Waits (up to 60 s) until `pred` holds.
bool WaitFor(const std::function<bool()>& pred) {
  for (int i = 0; i < 6000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

json UserTurn(const std::string& text) { return json::array({{{"role", "user"}, {"content", text}}}); }

void ExpectError(const Reply& r, int status, const std::string& type, const std::string& code = "") {
  EXPECT_EQ(r.status, status) << r.raw;
  ASSERT_TRUE(r.body.is_object()) << r.raw;
  ASSERT_TRUE(r.body.contains("error")) << r.raw;
  const json& e = r.body["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << r.raw;
  EXPECT_EQ(e["type"], type) << r.raw;
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << r.raw;
  if (!code.empty()) EXPECT_EQ(e["code"], code) << r.raw;
}

// ---------------------------------------------------------------------------------------------
// Endpoints

TEST(Serve, HealthModelsMetricsAndPage) {
  LiveServer s({});
  Reply health = Get(s, "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, json({{"status", "ok"}}));

  Reply models = Get(s, "/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.body["object"], "list");
  ASSERT_EQ(models.body["data"].size(), 1u);
  EXPECT_EQ(models.body["data"][0]["id"], "serve_test.gguf");
  EXPECT_EQ(models.body["data"][0]["object"], "model");
  EXPECT_EQ(models.body["data"][0]["meta"]["n_vocab"], Ref().tokenizer().size());

  auto page = s.Client()->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->get_header_value("Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(page->body, HasSubstr("/v1/chat/completions"));

  Reply metrics = Get(s, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  for (const char* name : {"g4serve_requests_total", "g4serve_prompt_tokens_total", "g4serve_completion_tokens_total",
                           "g4serve_prefill_tokens_per_second", "g4serve_decode_tokens_per_second",
                           "g4serve_queue_depth"}) {
    EXPECT_THAT(metrics.raw, HasSubstr(absl::StrCat("# TYPE ", name, " "))) << name;
  }
  EXPECT_EQ(Metric(s, "g4serve_slots"), 1);
}

TEST(Serve, ChatAnswerIsTheGreedyDecodeOfTheTemplatedPrompt) {
  LiveServer s({});
  const json messages = {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hello there"}}};
  const Reply r = Post(s, "/v1/chat/completions", json{{"model", "serve_test.gguf"}, {"messages", messages},
                                                      {"max_tokens", 8}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const std::vector<int32_t> prompt = Ref().ChatPrompt(messages);
  const auto [expected, generated] = Ref().Greedy(prompt, 8);
  EXPECT_EQ(r.body["object"], "chat.completion");
  EXPECT_THAT(r.body["id"].get<std::string>(), StartsWith("chatcmpl-"));
  EXPECT_EQ(r.body["model"], "serve_test.gguf");
  const json& choice = r.body["choices"][0];
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_EQ(choice["message"]["content"], AsJsonCarries(text::ParseModelOutput(expected).content));
  EXPECT_EQ(choice["finish_reason"], generated == 8 ? "length" : "stop");
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], prompt.size());
  EXPECT_EQ(r.body["usage"]["completion_tokens"], generated);
  EXPECT_EQ(r.body["usage"]["total_tokens"], prompt.size() + generated);
  EXPECT_EQ(r.body["timings"]["prompt_n"], prompt.size());
  EXPECT_EQ(r.body["timings"]["predicted_n"], generated);
  EXPECT_GT(r.body["timings"]["prompt_per_second"].get<double>(), 0);
}

TEST(Serve, StreamedChunksAddUpToTheSameAnswer) {
  LiveServer s({});
  const json request = {{"messages", UserTurn("Tell me a story")}, {"max_tokens", 12}, {"temperature", 0}};
  const Reply whole = Post(s, "/v1/chat/completions", request);
  ASSERT_EQ(whole.status, 200) << whole.raw;
  json streaming = request;
  streaming["stream"] = true;
  const Stream st = PostStream(s, streaming);
  EXPECT_EQ(st.status, 200);
  EXPECT_THAT(st.content_type, StartsWith("text/event-stream"));
  ASSERT_TRUE(st.complete);
  ASSERT_GE(st.events.size(), 3u);
  std::string content, id;
  int content_chunks = 0;
  for (size_t i = 0; i + 1 < st.events.size(); ++i) {
    const json chunk = json::parse(st.events[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    if (i == 0) id = chunk["id"];
    EXPECT_EQ(chunk["id"], id);
    const json& choice = chunk["choices"][0];
    EXPECT_EQ(choice["index"], 0);
    if (i == 0) EXPECT_EQ(choice["delta"]["role"], "assistant");
    if (choice["delta"].contains("content")) {
      content += choice["delta"]["content"].get<std::string>();
      ++content_chunks;
    }
    const bool last = i + 2 == st.events.size();
    EXPECT_EQ(choice["finish_reason"].is_null(), !last) << st.events[i];
    if (last) {
      EXPECT_EQ(choice["finish_reason"], whole.body["choices"][0]["finish_reason"]);
      EXPECT_EQ(chunk["usage"]["completion_tokens"], whole.body["usage"]["completion_tokens"]);
      EXPECT_EQ(chunk["usage"]["prompt_tokens"], whole.body["usage"]["prompt_tokens"]);
    }
  }
  EXPECT_EQ(content, whole.body["choices"][0]["message"]["content"]);
  // Released token by token (held back only where a marker could begin), not all at the end.
  EXPECT_GT(content_chunks, 3) << "the answer came in too few chunks";
}

TEST(Serve, CompletionsEndpointPlainAndStreamed) {
  LiveServer s({});
  const std::vector<int32_t> prompt = Ref().tokenizer().Encode("Once upon a time", true, true);
  const auto [expected, generated] = Ref().Greedy(prompt, 6);
  const Reply r = Post(s, "/v1/completions", json{{"prompt", "Once upon a time"}, {"max_tokens", 6}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["object"], "text_completion");
  EXPECT_THAT(r.body["id"].get<std::string>(), StartsWith("cmpl-"));
  EXPECT_EQ(r.body["choices"][0]["text"], AsJsonCarries(expected));
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], prompt.size());
  EXPECT_EQ(r.body["usage"]["completion_tokens"], generated);

  const Stream st = PostStream(s, json{{"prompt", "Once upon a time"}, {"max_tokens", 6}, {"temperature", 0}, {"stream", true}},
                               "/v1/completions");
  ASSERT_TRUE(st.complete);
  std::string text;
  for (size_t i = 0; i + 1 < st.events.size(); ++i) {
    const json chunk = json::parse(st.events[i]);
    EXPECT_EQ(chunk["object"], "text_completion");
    text += chunk["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, r.body["choices"][0]["text"]);
}

TEST(Serve, SamplingParameters) {
  LiveServer s({});
  const json base = {{"messages", UserTurn("Pick a word")}, {"max_tokens", 10}};
  auto content = [&](json extra) {
    json body = base;
    body.update(extra);
    const Reply r = Post(s, "/v1/chat/completions", body);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body["choices"][0]["message"]["content"].get<std::string>();
  };
  const std::string greedy = content({{"temperature", 0}});
  // top_k = 1 keeps only the most likely token (lowest id on ties, as greedy): greedy whatever
  // the temperature. (min_p = 1 is not the same: it keeps every token tied for the maximum, and
  // the random bf16 model does have ties.)
  EXPECT_EQ(content({{"temperature", 1.5}, {"top_k", 1}, {"seed", 3}}), greedy);
  // A seed reproduces a sampled answer; another seed gives another one.
  const json sampled = {{"temperature", 1.0}, {"top_p", 0.9}, {"min_p", 0.05}, {"seed", 42}};
  const std::string once = content(sampled);
  EXPECT_EQ(content(sampled), once);
  json other = sampled;
  other["seed"] = 43;
  json hot = other;
  hot["temperature"] = 2.0;
  EXPECT_TRUE(content(other) != once || content(hot) != once) << "the seed changes nothing";
  // max_tokens = 0: nothing generated.
  json none = base;
  none["max_tokens"] = 0;
  const Reply r = Post(s, "/v1/chat/completions", none);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], "");
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 0);
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "length");
}

TEST(Serve, StopStringsCutTheAnswer) {
  LiveServer s({});
  const json base = {{"messages", UserTurn("Count for me")}, {"max_tokens", 16}, {"temperature", 0}};
  const Reply whole = Post(s, "/v1/chat/completions", base);
  ASSERT_EQ(whole.status, 200);
  const std::string full = whole.body["choices"][0]["message"]["content"];
  // A stop string from the middle of the greedy answer (ASCII, so it is the same bytes as sent).
  size_t at = full.size() / 2;
  while (at + 2 < full.size() && !(std::isalnum(static_cast<unsigned char>(full[at])) &&
                                   std::isalnum(static_cast<unsigned char>(full[at + 1])))) {
    ++at;
  }
  ASSERT_LT(at + 2, full.size()) << "no ASCII pair in the greedy answer: " << full;
  const std::string stop = full.substr(at, 2);
  const std::string expected = full.substr(0, full.find(stop));
  for (const json& stop_field : {json(stop), json::array({"\x01\x02never", stop})}) {
    json body = base;
    body["stop"] = stop_field;
    const Reply r = Post(s, "/v1/chat/completions", body);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["choices"][0]["message"]["content"], expected) << "stop " << stop_field;
    EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop");
    body["stream"] = true;
    const Stream st = PostStream(s, body);
    ASSERT_TRUE(st.complete);
    std::string streamed;
    for (size_t i = 0; i + 1 < st.events.size(); ++i) {
      const json d = json::parse(st.events[i])["choices"][0]["delta"];
      if (d.contains("content")) streamed += d["content"].get<std::string>();
    }
    EXPECT_EQ(streamed, expected) << "no part of the stop string is ever sent";
  }
}

// ---------------------------------------------------------------------------------------------
// Slots, queue, prefix reuse, cancellation

TEST(Serve, SecondTurnEvaluatesOnlyTheNewTokens) {
  LiveServer s({});
  const json turn1 = UserTurn("What is the capital of France?");
  const Reply r1 = Post(s, "/v1/chat/completions", json{{"messages", turn1}, {"max_tokens", 6}, {"temperature", 0}});
  ASSERT_EQ(r1.status, 200);
  EXPECT_EQ(r1.body["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  json turn2 = turn1;
  turn2.push_back({{"role", "assistant"}, {"content", r1.body["choices"][0]["message"]["content"]}});
  turn2.push_back({{"role", "user"}, {"content", "And of Italy?"}});
  const std::vector<int32_t> p1 = Ref().ChatPrompt(turn1), p2 = Ref().ChatPrompt(turn2);
  // What the slot holds after turn 1 starts with p1; turn 2 re-renders the answer without the
  // generation prompt's empty thought channel, so the shared part is exactly LCP(p1, p2).
  const size_t common = CommonPrefix(p1, p2);
  ASSERT_GT(common, 5u);
  const double evaluated_before = Metric(s, "g4serve_prompt_tokens_evaluated_total");
  const Reply r2 = Post(s, "/v1/chat/completions", json{{"messages", turn2}, {"max_tokens", 6}, {"temperature", 0}});
  ASSERT_EQ(r2.status, 200) << r2.raw;
  EXPECT_EQ(r2.body["usage"]["prompt_tokens"], p2.size());
  EXPECT_EQ(r2.body["usage"]["prompt_tokens_details"]["cached_tokens"], common);
  EXPECT_EQ(r2.body["timings"]["prompt_n"], p2.size() - common);
  EXPECT_EQ(Metric(s, "g4serve_prompt_tokens_evaluated_total") - evaluated_before, double(p2.size() - common));
  // The answer is still the model's: the same as a fresh greedy decode of the whole prompt.
  EXPECT_EQ(r2.body["choices"][0]["message"]["content"],
            AsJsonCarries(text::ParseModelOutput(Ref().Greedy(p2, 6).first).content));

  // The same request again: everything but the last prompt token comes from the cache.
  const Reply r3 = Post(s, "/v1/chat/completions", json{{"messages", turn2}, {"max_tokens", 6}, {"temperature", 0}});
  EXPECT_EQ(r3.body["usage"]["prompt_tokens_details"]["cached_tokens"], p2.size() - 1);
  EXPECT_EQ(r3.body["choices"][0]["message"]["content"], r2.body["choices"][0]["message"]["content"]);
}

TEST(Serve, TwoConcurrentConversationsDoNotMix) {
  // Each conversation: two turns, seeded sampling. Run one after the other, then at the same time
  // on a fresh server; every answer must be the same (each slot's cache holds its own
  // conversation), and the two conversations' answers differ.
  auto conversation = [](const LiveServer& s, const std::string& first, const std::string& second, int seed) {
    std::vector<std::string> answers;
    json messages = UserTurn(first);
    for (const std::string& next : {second, std::string()}) {
      const Reply r = Post(s, "/v1/chat/completions",
                           json{{"messages", messages}, {"max_tokens", 24}, {"temperature", 0.9}, {"seed", seed}});
      EXPECT_EQ(r.status, 200) << r.raw;
      answers.push_back(r.body["choices"][0]["message"]["content"]);
      if (next.empty()) break;
      messages.push_back({{"role", "assistant"}, {"content", answers.back()}});
      messages.push_back({{"role", "user"}, {"content", next}});
    }
    return answers;
  };
  ServerOptions options;
  options.slots = 2;
  std::vector<std::string> a_alone, b_alone;
  {
    LiveServer s(options);
    a_alone = conversation(s, "Tell me about cats.", "And dogs?", 11);
    b_alone = conversation(s, "Write a poem on the sea.", "Shorter please.", 22);
  }
  LiveServer s(options);
  auto a = std::async(std::launch::async, conversation, std::cref(s), "Tell me about cats.", "And dogs?", 11);
  auto b = std::async(std::launch::async, conversation, std::cref(s), "Write a poem on the sea.", "Shorter please.", 22);
  EXPECT_EQ(a.get(), a_alone);
  EXPECT_EQ(b.get(), b_alone);
  EXPECT_NE(a_alone, b_alone);
  // Both second turns reused their own slot's first turn.
  EXPECT_GT(Metric(s, "g4serve_prompt_tokens_total"), Metric(s, "g4serve_prompt_tokens_evaluated_total"));
}

// A streamed request that keeps the only slot busy until `release` is set, then disconnects.
struct Holder {
  std::promise<void> started;
  std::atomic<bool> release{false};
  Stream result;
  std::thread thread;
  Holder(const LiveServer& s) {
    thread = std::thread([this, &s] {
      bool first = true;
      result = PostStream(s, json{{"messages", UserTurn("Go on and on")}, {"max_tokens", 900}, {"ignore_eos", true}, {"stream", true}},
                          "/v1/chat/completions", [this, &first](const std::string&) {
                            if (first) started.set_value();
                            first = false;
                            return !release.load();
                          });
      if (first) started.set_value();
    });
  }
  ~Holder() {
    release = true;
    thread.join();
  }
};

TEST(Serve, ClientDisconnectCancelsAndFreesTheSlot) {
  ServerOptions options;
  options.ctx = 1024;
  LiveServer s(options);
  {
    Holder holder(s);
    holder.started.get_future().wait();
    EXPECT_EQ(Metric(s, "g4serve_slots_busy"), 1);
    holder.release = true;
  }
  EXPECT_TRUE(WaitFor([&] { return Metric(s, "g4serve_cancelled_total") == 1; }));
  EXPECT_TRUE(WaitFor([&] { return Metric(s, "g4serve_slots_busy") == 0; }));
  EXPECT_LT(Metric(s, "g4serve_completion_tokens_total"), 900) << "generation went on after the disconnect";
  const Reply r = Post(s, "/v1/chat/completions", json{{"messages", UserTurn("Hi")}, {"max_tokens", 2}});
  EXPECT_EQ(r.status, 200) << r.raw;
}

TEST(Serve, NonStreamingClientThatGoesAwayCancelsToo) {
  LiveServer s({});
  httplib::Client client("127.0.0.1", s.port());
  client.set_read_timeout(0, 100000);  // gives up after 0.1 s; a 900-token answer takes seconds
  auto r = client.Post("/v1/chat/completions", json{{"messages", UserTurn("Go on and on")}, {"max_tokens", 900}, {"ignore_eos", true}}.dump(),
                       "application/json");
  EXPECT_FALSE(r) << "the answer came within 0.1 s; the test needs a slower generation";
  client.stop();
  EXPECT_TRUE(WaitFor([&] { return Metric(s, "g4serve_cancelled_total") == 1; }));
  EXPECT_TRUE(WaitFor([&] { return Metric(s, "g4serve_slots_busy") == 0; }));
  EXPECT_LT(Metric(s, "g4serve_completion_tokens_total"), 900);
}

TEST(Serve, FullQueueIs429AndAQueuedRequestRunsWhenTheSlotFrees) {
  ServerOptions options;
  options.slots = 1;
  options.max_queue = 1;
  LiveServer s(options);
  auto holder = std::make_unique<Holder>(s);
  holder->started.get_future().wait();
  auto queued = std::async(std::launch::async, [&] {
    return Post(s, "/v1/chat/completions", json{{"messages", UserTurn("Queued")}, {"max_tokens", 3}, {"temperature", 0}});
  });
  ASSERT_TRUE(WaitFor([&] { return Metric(s, "g4serve_queue_depth") == 1; }));
  ExpectError(Post(s, "/v1/chat/completions", json{{"messages", UserTurn("One too many")}}), 429, "rate_limit_error");
  holder.reset();  // disconnects; the queued request gets the slot
  const Reply r = queued.get();
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["message"]["content"],
            AsJsonCarries(text::ParseModelOutput(Ref().Greedy(Ref().ChatPrompt(UserTurn("Queued")), 3).first).content));
}

TEST(Serve, ShutdownAnswersQueuedRequests503AndEndsRunningOnes) {
  ServerOptions options;
  options.slots = 1;
  auto s = std::make_unique<LiveServer>(options);
  auto holder = std::make_unique<Holder>(*s);
  holder->started.get_future().wait();
  auto queued = std::async(std::launch::async, [&] {
    return Post(*s, "/v1/chat/completions", json{{"messages", UserTurn("Queued")}, {"max_tokens", 3}});
  });
  ASSERT_TRUE(WaitFor([&] { return Metric(*s, "g4serve_queue_depth") == 1; }));
  s->server().Shutdown();
  ExpectError(queued.get(), 503, "server_error");
  holder.reset();
  // The holder's client may hang up before the server's generation loop sees the shutdown: the
  // count comes when that loop does, not when the client's thread has joined.
  EXPECT_TRUE(WaitFor([&] { return s->server().metrics().cancelled.load() == 1; }));
}

// ---------------------------------------------------------------------------------------------
// Thinking and tools: the server is given the model's output (scripted tokens; the model still
// evaluates every one) and must turn it into reasoning_content and tool_calls.

std::vector<int32_t> Script(const std::string& text, const std::string& end) {
  std::vector<int32_t> ids = Ref().tokenizer().Encode(text + end, /*add_bos=*/false, /*parse_special=*/true);
  return ids;
}

TEST(Serve, ThoughtsBecomeReasoningContent) {
  ServerOptions options;
  options.scripted_output = Script("<|channel>thought\nThe user greets me.<channel|>Hello! How can I help?", "<turn|>");
  LiveServer s(options);
  const json request = {{"messages", UserTurn("Hi")}, {"reasoning_effort", "high"}, {"max_tokens", 100}};
  const Reply r = Post(s, "/v1/chat/completions", request);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["message"]["reasoning_content"], "The user greets me.");
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], "Hello! How can I help?");
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop");
  // Thinking on puts <|think|> into a system turn: the prompt is the thinking template's.
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], Ref().ChatPrompt(UserTurn("Hi"), /*thinking=*/true).size());

  json streaming = request;
  streaming["stream"] = true;
  const Stream st = PostStream(s, streaming);
  ASSERT_TRUE(st.complete);
  std::string thoughts, content;
  for (size_t i = 0; i + 1 < st.events.size(); ++i) {
    const json d = json::parse(st.events[i])["choices"][0]["delta"];
    if (d.contains("reasoning_content")) thoughts += d["reasoning_content"].get<std::string>();
    if (d.contains("content")) content += d["content"].get<std::string>();
  }
  EXPECT_EQ(thoughts, "The user greets me.");
  EXPECT_EQ(content, "Hello! How can I help?");

  // /v1/completions is raw: the text comes back as written, markers included, streamed or not.
  const std::string raw = "<|channel>thought\nThe user greets me.<channel|>Hello! How can I help?";
  const Reply c = Post(s, "/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 100}});
  EXPECT_EQ(c.body["choices"][0]["text"], raw) << c.raw;
  const Stream cs = PostStream(s, json{{"prompt", "Hi"}, {"max_tokens", 100}, {"stream", true}}, "/v1/completions");
  ASSERT_TRUE(cs.complete);
  std::string streamed;
  for (size_t i = 0; i + 1 < cs.events.size(); ++i) streamed += json::parse(cs.events[i])["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(streamed, raw);
}

const json kWeatherTool = {{"type", "function"},
                           {"function",
                            {{"name", "get_weather"},
                             {"description", "The weather in a city"},
                             {"parameters",
                              {{"type", "object"},
                               {"properties", {{"city", {{"type", "string"}}}}},
                               {"required", {"city"}}}}}}};

TEST(Serve, ToolCallsComeBackAsToolCalls) {
  ServerOptions options;
  options.scripted_output = Script("<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|>", "<|tool_response>");
  LiveServer s(options);
  const json messages = UserTurn("Weather in Paris?");
  const json tools = json::array({kWeatherTool});
  const json request = {{"messages", messages}, {"tools", tools}, {"max_tokens", 100}};
  const Reply r = Post(s, "/v1/chat/completions", request);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& choice = r.body["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_TRUE(choice["message"]["content"].is_null()) << r.raw;
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u) << r.raw;
  const json& call = choice["message"]["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_TRUE(call["id"].is_string());
  EXPECT_EQ(call["function"]["name"], "get_weather");
  ASSERT_TRUE(call["function"]["arguments"].is_string());
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()), json({{"city", "Paris"}}));
  // The declaration is in the prompt.
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], Ref().ChatPrompt(messages, false, tools).size());

  // Streamed: no marker text in the deltas, the call whole in the last chunk.
  json streaming = request;
  streaming["stream"] = true;
  const Stream st = PostStream(s, streaming);
  ASSERT_TRUE(st.complete);
  const json last = json::parse(st.events[st.events.size() - 2])["choices"][0];
  EXPECT_EQ(last["finish_reason"], "tool_calls");
  ASSERT_EQ(last["delta"]["tool_calls"].size(), 1u);
  EXPECT_EQ(last["delta"]["tool_calls"][0]["function"]["name"], "get_weather");
  for (size_t i = 0; i + 2 < st.events.size(); ++i) {
    EXPECT_THAT(st.events[i], ::testing::Not(HasSubstr("tool_call>"))) << st.events[i];
  }

  // The next turn carries the call and its result; the prompt is the template's rendering of them.
  json turn2 = messages;
  json assistant = choice["message"];
  turn2.push_back(assistant);
  turn2.push_back({{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "{\"temp_c\": 18}"}});
  const Reply r2 = Post(s, "/v1/chat/completions", json{{"messages", turn2}, {"tools", tools}, {"max_tokens", 1}});
  ASSERT_EQ(r2.status, 200) << r2.raw;
  const std::vector<int32_t> p2 = Ref().ChatPrompt(turn2, false, tools);
  EXPECT_EQ(r2.body["usage"]["prompt_tokens"], p2.size());
  EXPECT_THAT(Ref().tokenizer().Decode(p2, true), HasSubstr("<|tool_response>response:get_weather{"));

  // tool_choice "none": no declaration in the prompt; a function not in tools: 400.
  const Reply none = Post(s, "/v1/chat/completions", json{{"messages", messages}, {"tools", tools}, {"tool_choice", "none"}, {"max_tokens", 1}});
  EXPECT_EQ(none.body["usage"]["prompt_tokens"], Ref().ChatPrompt(messages).size()) << none.raw;
  const Reply named = Post(s, "/v1/chat/completions",
                           json{{"messages", messages}, {"tools", tools}, {"max_tokens", 1},
                                {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}}});
  EXPECT_EQ(named.status, 200) << named.raw;
  ExpectError(Post(s, "/v1/chat/completions", json{{"messages", messages}, {"tools", tools},
                                                   {"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}}),
              400, "invalid_request_error");
}

// ---------------------------------------------------------------------------------------------
// Bad input: an OpenAI error object with the right status, and the server keeps serving.

TEST(Serve, MalformedJsonAndWrongShapesAre400) {
  LiveServer s({});
  ExpectError(Post(s, "/v1/chat/completions", std::string("{\"messages\": [")), 400, "invalid_request_error", "invalid_json");
  ExpectError(Post(s, "/v1/chat/completions", std::string("[1, 2]")), 400, "invalid_request_error");
  ExpectError(Post(s, "/v1/chat/completions", json{{"max_tokens", 3}}), 400, "invalid_request_error");
  ExpectError(Post(s, "/v1/chat/completions", json{{"messages", "hello"}}), 400, "invalid_request_error", "invalid_type");
  ExpectError(Post(s, "/v1/chat/completions", json{{"messages", json::array()}}), 400, "invalid_request_error");
  ExpectError(Post(s, "/v1/chat/completions", json{{"messages", {{{"role", "robot"}, {"content", "x"}}}}}), 400,
              "invalid_request_error");
  ExpectError(Post(s, "/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", 5}}}}}), 400,
              "invalid_request_error");
  ExpectError(Post(s, "/v1/completions", json{{"prompt", 7}}), 400, "invalid_request_error", "invalid_type");
  ExpectError(Post(s, "/v1/completions", json{{"max_tokens", 2}}), 400, "invalid_request_error");
  // Wrong types and ranges of the parameters, each named in `param`.
  for (const auto& [key, value] : std::vector<std::pair<std::string, json>>{{"temperature", "hot"},
                                                                           {"max_tokens", 2.5},
                                                                           {"stream", "yes"},
                                                                           {"seed", "x"},
                                                                           {"top_k", true},
                                                                           {"stop", 3},
                                                                           {"tools", "all"},
                                                                           {"n", 2}}) {
    json body = {{"messages", UserTurn("hi")}, {"max_tokens", 1}};
    body[key] = value;
    const Reply r = Post(s, "/v1/chat/completions", body);
    ExpectError(r, 400, "invalid_request_error");
    EXPECT_EQ(r.body["error"]["param"], key) << r.raw;
  }
  ExpectError(Post(s, "/v1/chat/completions", json{{"messages", UserTurn("hi")}, {"top_p", 0}}), 400, "invalid_request_error");
  // A tool whose name is not a string, chosen by name: 400, not an exception.
  ExpectError(Post(s, "/v1/chat/completions",
                   json{{"messages", UserTurn("hi")}, {"tools", {{{"type", "function"}, {"function", {{"name", 5}}}}}},
                        {"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}}),
              400, "invalid_request_error");
  ExpectError(Post(s, "/v1/chat/completions",
                   json{{"messages", UserTurn("hi")}, {"tools", {{{"type", "function"}, {"function", {{"name", 5}}}}}}}),
              400, "invalid_request_error");
  ExpectError(Post(s, "/v1/chat/completions", json{{"messages", UserTurn("hi")}, {"max_tokens", -1}}), 400, "invalid_request_error");
  EXPECT_EQ(Post(s, "/v1/chat/completions", json{{"messages", UserTurn("hi")}, {"max_tokens", 1}}).status, 200);
  EXPECT_EQ(Metric(s, "g4serve_errors_total"), 21);  // every 4xx above, counted
}

// Random request bodies (every field a random JSON value of a random type, random messages, and
// truncations of a valid body): the answer is always 200 with a choice or a 4xx error object, never
// a 5xx, a dropped connection or a crash; the server still serves afterwards.
TEST(Serve, RandomBodiesGetAnAnswerOrAnErrorObject) {
  LiveServer s({});
  std::mt19937 rng(1234);
  auto pick = [&](int n) { return int(rng() % unsigned(n)); };
  std::function<json(int)> value = [&](int depth) -> json {
    switch (pick(depth > 1 ? 6 : 8)) {
      case 0: return nullptr;
      case 1: return pick(2) == 1;
      case 2: return pick(5) - 2;
      case 3: return (pick(400) - 100) / 100.0;
      case 4: return std::string("x<|turn>\xff", size_t(pick(10)));
      case 5: return "auto";
      case 6: return json::array({value(depth + 1), value(depth + 1)});
      default: return json{{"type", "function"}, {"function", {{"name", value(depth + 1)}}}, {"k", value(depth + 1)}};
    }
  };
  const char* roles[] = {"user", "system", "assistant", "tool", "developer", "robot", ""};
  auto message = [&]() {
    json m = json::object();
    if (pick(8)) m["role"] = pick(2) ? "user" : roles[pick(7)];
    if (pick(8)) m["content"] = pick(3) ? json("hello") : value(0);
    if (pick(4) == 0) m["tool_calls"] = json::array({{{"id", "c"}, {"type", "function"},
                                                      {"function", {{"name", value(1)}, {"arguments", value(1)}}}}});
    if (pick(6) == 0) m["tool_call_id"] = value(1);
    return m;
  };
  const char* keys[] = {"model", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "tools",
                        "tool_choice", "n", "reasoning_effort", "chat_template_kwargs", "thinking", "stream_options"};
  int ok = 0, rejected = 0;
  for (int i = 0; i < 300; ++i) {
    json body = json::object();
    json messages = json::array();
    for (int m = 1 + pick(3); m > 0; --m) messages.push_back(message());
    if (pick(10)) body["messages"] = messages;
    const json max_tokens[] = {1, 2, 1, 2, "x", -1, 2.5, true};
    body["max_tokens"] = max_tokens[pick(8)];
    if (pick(3)) body["prompt"] = pick(4) ? json("Once") : value(0);
    for (const char* key : keys) {
      if (pick(10) == 0) body[key] = value(0);
    }
    if (pick(4) == 0) body["model"] = "serve_test.gguf";
    std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
    if (pick(8) == 0) text.resize(size_t(pick(int(text.size()))));
    const Reply r = Post(s, pick(3) ? "/v1/chat/completions" : "/v1/completions", text);
    ASSERT_NE(r.status, -1) << "no answer to " << text;
    ASSERT_TRUE(r.body.is_object()) << r.raw << "\nfor " << text;
    if (r.status == 200) {
      EXPECT_TRUE(r.body.contains("choices")) << r.raw << "\nfor " << text;
      ++ok;
    } else {
      EXPECT_TRUE(r.status == 400 || r.status == 404) << r.status << " " << r.raw << "\nfor " << text;
      EXPECT_TRUE(r.body.contains("error")) << r.raw;
      ++rejected;
    }
  }
  EXPECT_GT(ok, 5);
  EXPECT_GT(rejected, 50);
  EXPECT_EQ(Get(s, "/health").status, 200);
}

TEST(Serve, UnknownModelAndPathAre404) {
  LiveServer s({});
  const Reply r = Post(s, "/v1/chat/completions", json{{"model", "gpt-4o"}, {"messages", UserTurn("hi")}});
  ExpectError(r, 404, "not_found_error", "model_not_found");
  EXPECT_EQ(r.body["error"]["param"], "model");
  ExpectError(Get(s, "/v1/nothing"), 404, "invalid_request_error");
  ExpectError(Post(s, "/v2/chat", json::object()), 404, "invalid_request_error");
}

TEST(Serve, PromptLongerThanTheContextIs400) {
  ServerOptions options;
  options.ctx = 64;
  LiveServer s(options);
  std::string long_text;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&long_text, "word", i, " ");
  const Reply r = Post(s, "/v1/chat/completions", json{{"messages", UserTurn(long_text)}});
  ExpectError(r, 400, "invalid_request_error", "context_length_exceeded");
  ExpectError(Post(s, "/v1/completions", json{{"prompt", long_text}}), 400, "invalid_request_error", "context_length_exceeded");
  // A prompt that fits gets at most the room left.
  const Reply ok = Post(s, "/v1/chat/completions", json{{"messages", UserTurn("hi")}, {"max_tokens", 500}});
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_LE(ok.body["usage"]["total_tokens"].get<int>(), 64);
}

TEST(Serve, BodyOverTheLimitIs413) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  LiveServer s(options);
  const Reply r = Post(s, "/v1/chat/completions", json{{"messages", UserTurn(std::string(4096, 'a'))}});
  ExpectError(r, 413, "invalid_request_error", "request_too_large");
  EXPECT_EQ(Post(s, "/v1/chat/completions", json{{"messages", UserTurn("hi")}, {"max_tokens", 1}}).status, 200);
}

TEST(Serve, ApiKeyIsRequiredWhenSet) {
  ServerOptions options;
  options.api_key = "sekrit";
  LiveServer s(options);
  const std::string body = json{{"messages", UserTurn("hi")}, {"max_tokens", 1}}.dump();
  ExpectError(Post(s, "/v1/chat/completions", body), 401, "authentication_error", "invalid_api_key");
  ExpectError(Post(s, "/v1/chat/completions", body, {{"Authorization", "Bearer wrong"}}), 401, "authentication_error");
  EXPECT_EQ(Post(s, "/v1/chat/completions", body, {{"Authorization", "Bearer sekrit"}}).status, 200);
  auto models = s.Client()->Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 401);
  EXPECT_EQ(Get(s, "/health").status, 200) << "health needs no key";
}

TEST(Serve, QueueZeroServesAFreeSlotAndRejectsWaiting) {
  ServerOptions options;
  options.max_queue = 0;
  LiveServer s(options);
  // Back to back on one connection, each request finds the slot its predecessor released (the
  // lease goes before the response's last write, not when httplib drops the provider).
  auto client = s.Client();
  for (bool stream : {false, true, false, true}) {
    for (int i = 0; i < 10; ++i) {
      auto r = client->Post("/v1/chat/completions", json{{"messages", UserTurn("hi")}, {"max_tokens", 1}, {"stream", stream}}.dump(),
                            "application/json");
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << "request " << i << (stream ? " (streamed): " : ": ") << r->body;
    }
  }
  auto holder = std::make_unique<Holder>(s);
  holder->started.get_future().wait();
  ExpectError(Post(s, "/v1/chat/completions", json{{"messages", UserTurn("hi")}, {"max_tokens", 1}}), 429, "rate_limit_error");
}

TEST(Serve, CreateNamesWhatIsWrong) {
  ServerOptions options;
  options.plan_dir = kPlan;
  options.model_path = "/nonexistent/model.gguf";
  auto missing = Server::Create(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/model.gguf"));
  options.model_path = kModel;
  options.plan_dir = "/nonexistent/plan";
  auto no_plan = Server::Create(options);
  ASSERT_FALSE(no_plan.ok());
  EXPECT_THAT(std::string(no_plan.status().message()), HasSubstr("/nonexistent/plan"));
  options.plan_dir = kPlan;
  options.slots = 0;
  EXPECT_EQ(Server::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// The g4serve binary: serves, and exits 0 on SIGTERM.

TEST(Serve, BinaryServesAndStopsOnSigterm) {
  int err[2];
  ASSERT_EQ(pipe(err), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_addclose(&actions, err[0]);
  std::vector<std::string> args = {G4SERVE_BINARY, kPlan, "--model", kModel, "--port", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, G4SERVE_BINARY, &actions, nullptr, argv.data(), environ), 0);
  close(err[1]);
  FILE* in = fdopen(err[0], "r");
  char line[512] = {0};
  ASSERT_NE(fgets(line, sizeof line, in), nullptr);
  const std::string banner = line;
  const size_t colon = banner.rfind(':', banner.find(" ("));
  ASSERT_NE(colon, std::string::npos) << banner;
  const int port = std::atoi(banner.c_str() + colon + 1);
  ASSERT_GT(port, 0) << banner;
  httplib::Client client("127.0.0.1", port);
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto chat = client.Post("/v1/chat/completions", json{{"messages", UserTurn("hi")}, {"max_tokens", 2}}.dump(),
                          "application/json");
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 200);
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  fclose(in);
  posix_spawn_file_actions_destroy(&actions);
}

TEST(Serve, BinaryRefusesBadArgumentsWithAMessage) {
  auto run = [](const std::string& args, std::string* out) {
    FILE* p = popen((std::string(G4SERVE_BINARY) + " " + args + " 2>&1").c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
    const int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  std::string usage, missing, device;
  EXPECT_EQ(run("", &usage), 2);
  EXPECT_THAT(usage, HasSubstr("usage: g4serve OUTDIR --model M.gguf"));
  EXPECT_EQ(run(absl::StrCat(kPlan, " --model /nonexistent/m.gguf --port 0"), &missing), 1);
  EXPECT_THAT(missing, HasSubstr("/nonexistent/m.gguf"));
  EXPECT_EQ(run(absl::StrCat(kPlan, " --model ", kModel, " --device tpu"), &device), 2);
  EXPECT_THAT(device, HasSubstr("--device must be cpu or cuda"));
}

}  // namespace
}  // namespace g4::serve
