#include "store/rekall_values.h"

#include <cstring>

namespace rekall::store {

namespace {

// The number written in s[pos, pos+n), all digits; -1 otherwise.
int Digits(const std::string& s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// HH[:MM[:SS[.fff|.ffffff]]] (with_fraction) as Python 3.10 parses a time
// or, with max_parts 3 and a fraction of 6 digits only, an offset.
bool IsHhMmSs(const std::string& s, bool offset) {
  const int limits[] = {24, 60, 60};
  size_t pos = 0;
  for (int part = 0; part < 3; ++part) {
    int v = Digits(s, pos, 2);
    if (v < 0 || v >= limits[part]) return false;
    pos += 2;
    if (pos == s.size()) return !offset || part >= 1;  // an offset has at least HH:MM
    if (s[pos] == '.' && part == 2) break;
    if (s[pos] != ':') return false;
    ++pos;
  }
  if (pos == s.size() || s[pos] != '.') return false;
  size_t frac = s.size() - pos - 1;
  if (!(frac == 6 || (frac == 3 && !offset))) return false;
  return Digits(s, pos + 1, frac) >= 0;
}

bool IsPythonIsoTime(const std::string& s) {
  size_t tz = s.find_first_of("+-");
  if (tz == std::string::npos) return IsHhMmSs(s, false);
  return IsHhMmSs(s.substr(0, tz), false) && IsHhMmSs(s.substr(tz + 1), true);
}

bool IsInt(const nlohmann::json& v) { return v.is_number_integer(); }
bool IsNumber(const nlohmann::json& v) { return v.is_number(); }
bool IsDatetimeOrEmpty(const nlohmann::json& v) {
  return v.is_string() && (v.get<std::string>().empty() || IsPythonIsoDatetime(v.get<std::string>()));
}
bool IsDateOrEmpty(const nlohmann::json& v) {
  return v.is_string() && (v.get<std::string>().empty() || IsPythonIsoDate(v.get<std::string>()));
}
bool IsMemoryType(const nlohmann::json& v) {
  return v.is_string() && (v.get<std::string>() == kMemoryTypes[0] || v.get<std::string>() == kMemoryTypes[1]);
}

struct ColumnRule {
  const char* column;
  bool (*ok)(const nlohmann::json&);
  const char* expected;
};

// NULL is Rekall's default for each of these ("x or 0", "if x"), so null
// always passes.
const ColumnRule kRules[] = {
    {"memory_type", IsMemoryType, "episodic or semantic"},
    {"access_count", IsInt, "an integer"},
    {"review_interval", IsInt, "an integer"},
    {"ease_factor", IsNumber, "a number"},
    {"consolidation_score", IsNumber, "a number"},
    {"centrality_score", IsNumber, "a number"},
    {"last_accessed", IsDatetimeOrEmpty, "an ISO date and time as Python's datetime.fromisoformat reads it"},
    {"next_review", IsDateOrEmpty, "a date YYYY-MM-DD"},
};

}  // namespace

bool IsPythonIsoDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  int y = Digits(s, 0, 4), m = Digits(s, 5, 2), d = Digits(s, 8, 2);
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  return d <= DaysInMonth(y, m);
}

bool IsPythonIsoDatetime(const std::string& s) {
  if (!IsPythonIsoDate(s.substr(0, 10))) return false;
  if (s.size() == 10) return true;
  if (s[10] != 'T' && s[10] != ' ') return false;
  return IsPythonIsoTime(s.substr(11));
}

Status ValidateRekallColumns(const nlohmann::json& extra) {
  if (!extra.is_object()) return Status::OK();
  for (const auto& r : kRules) {
    auto it = extra.find(r.column);
    if (it == extra.end() || it->is_null() || r.ok(*it)) continue;
    return Status::InvalidArgument(std::string("invalid ") + r.column + " " + it->dump() + " (expected " +
                                   r.expected + "; Rekall could not read it)");
  }
  return Status::OK();
}

}  // namespace rekall::store
