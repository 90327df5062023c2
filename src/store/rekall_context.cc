#include "store/rekall_context.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "store/keywords.h"
#include "util/ulid.h"

namespace rekall::store {

namespace {

using nlohmann::json;

// Rekall's keys, in the order its to_dict writes them.
constexpr const char* kKeys[] = {"situation",      "solution",    "trigger_keywords", "what_failed",
                                 "conversation_excerpt", "files_modified", "error_messages", "time_of_day",
                                 "day_of_week",    "created_at",  "extraction_method"};

std::string Strip(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n\f\v"), e = s.find_last_not_of(" \t\r\n\f\v");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Python's len(s.strip()) >= 5, counting code points.
bool LongEnough(const json& v) {
  if (!v.is_string()) return false;
  std::string s = Strip(v.get<std::string>());
  size_t points = std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; });
  return points >= 5;
}

std::vector<std::string> Keywords(const json& v) {
  std::vector<std::string> out;
  if (!v.is_array()) return out;
  for (const auto& k : v) {
    if (!k.is_string()) continue;
    std::string s = Strip(k.get<std::string>());
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!s.empty()) out.push_back(s);
  }
  return out;
}

// Rekall's temporal markers of the local time (rekall/temporal.py).
void TemporalMarkers(json* ctx) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  static const char* const kDays[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
  int h = tm.tm_hour;
  const char* part = h >= 5 && h < 12 ? "morning" : h >= 12 && h < 17 ? "afternoon" : h >= 17 && h < 21 ? "evening"
                                                                                                         : "night";
  if (!ctx->contains("time_of_day")) (*ctx)["time_of_day"] = part;
  if (!ctx->contains("day_of_week")) (*ctx)["day_of_week"] = kDays[tm.tm_wday];
}

// json.dumps with its defaults: ", " and ": ", non-ASCII escaped.
std::string PythonDumps(const json& v) {
  if (v.is_object()) {
    std::string s = "{";
    for (auto it = v.begin(); it != v.end(); ++it)
      s += (s.size() > 1 ? ", " : "") + json(it.key()).dump(-1, ' ', true) + ": " + PythonDumps(it.value());
    return s + "}";
  }
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + PythonDumps(v[i]);
    return s + "]";
  }
  return v.dump(-1, ' ', true, json::error_handler_t::replace);
}

// The object in Rekall's key order (nlohmann's json sorts keys).
std::string OrderedDumps(const json& ctx) {
  std::string s = "{";
  auto add = [&s](const std::string& k, const json& v) {
    s += (s.size() > 1 ? ", " : "") + json(k).dump(-1, ' ', true) + ": " + PythonDumps(v);
  };
  for (const char* k : kKeys) add(k, ctx.contains(k) ? ctx.at(k) : json(nullptr));
  for (auto it = ctx.begin(); it != ctx.end(); ++it)
    if (std::find_if(std::begin(kKeys), std::end(kKeys), [&](const char* k) { return it.key() == k; }) ==
        std::end(kKeys))
      add(it.key(), it.value());
  return s + "}";
}

}  // namespace

std::string ContextEmbeddingText(const std::string& context_structured) {
  json ctx = json::parse(context_structured, nullptr, false);
  if (!ctx.is_object()) return std::string();
  auto field = [&ctx](const char* k) {
    auto it = ctx.find(k);
    return it != ctx.end() && it->is_string() ? Strip(it->get<std::string>()) : std::string();
  };
  std::string situation = field("situation"), solution = field("solution");
  std::string text = situation.empty() ? "" : "Situation: " + situation;
  if (!solution.empty()) text += (text.empty() ? "" : "\n") + std::string("Solution: ") + solution;
  return text;
}

std::string ZlibCompress(const std::string& data) {
  uLongf n = compressBound(static_cast<uLong>(data.size()));
  std::string out(n, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(data.data()),
                static_cast<uLong>(data.size()), 6) != Z_OK)
    return std::string();
  out.resize(n);
  return out;
}

bool ZlibDecompress(const std::string& data, std::string* out) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return false;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  out->clear();
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out->append(buf, sizeof buf - z.avail_out);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END;
}

bool ToRekallContext(const json& in, const std::string& title, const std::string& content, RekallContext* out) {
  if (!in.is_object() || !LongEnough(in.value("situation", json())) || !LongEnough(in.value("solution", json())))
    return false;
  json ctx = in;
  out->keywords = Keywords(in.value("trigger_keywords", json()));
  if (out->keywords.empty()) {
    // As Rekall's MCP add: from the title and all the text, marked "auto".
    out->keywords = ExtractKeywords(title, title + " " + content + " " + in["situation"].get<std::string>() + " " +
                                               in["solution"].get<std::string>());
    if (!ctx.contains("extraction_method")) ctx["extraction_method"] = "auto";
  }
  if (out->keywords.empty()) return false;
  ctx["trigger_keywords"] = out->keywords;
  if (!ctx.contains("created_at")) ctx["created_at"] = NowIsoLocal();
  if (!ctx.contains("extraction_method")) ctx["extraction_method"] = "manual";
  TemporalMarkers(&ctx);
  std::sort(out->keywords.begin(), out->keywords.end());
  out->keywords.erase(std::unique(out->keywords.begin(), out->keywords.end()), out->keywords.end());
  out->json = OrderedDumps(ctx);
  out->blob = ZlibCompress(out->json);
  out->summary = ZlibCompress("Situation: " + ctx["situation"].get<std::string>() +
                              "\nSolution: " + ctx["solution"].get<std::string>());
  return !out->blob.empty() && !out->summary.empty();
}

}  // namespace rekall::store
