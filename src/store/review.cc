// Rekall's spaced repetition (SM-2, simplified as Rekall does it) on its
// columns review_interval, ease_factor and next_review, so that Rekall's own
// `review` and ours see and write the same schedule.
#include <algorithm>

#include "store/review.h"

#include "store/store.h"

namespace rekall::store {

namespace {

using sqlite::Stmt;

constexpr const char* kReviewColumns[] = {"next_review", "review_interval", "ease_factor"};

// Rekall reads a NULL or 0 interval as 1 and a NULL or 0 ease factor as 2.5
// (Python's `or`).
int64_t StoredInterval(const Stmt& st, int col) {
  int64_t v = st.Type(col) == SQLITE_NULL ? 0 : st.Int(col);
  return v == 0 ? 1 : v;
}
double StoredEase(const Stmt& st, int col) {
  double v = st.Type(col) == SQLITE_NULL ? 0 : st.Double(col);
  return v == 0 ? 2.5 : v;
}

}  // namespace

ReviewSchedule NextReviewSchedule(int64_t interval, double ease, int quality) {
  ReviewSchedule r;
  if (quality < 3) {
    r.interval = 1;
  } else {
    double factor = std::max(1.3, 2.5 + 0.1 * (quality - 3));
    r.interval = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(interval) * factor));
  }
  const double miss = 5 - quality;
  r.ease_factor = std::max(1.3, ease + 0.1 - miss * (0.08 + miss * 0.02));
  return r;
}

Status Store::DueForReview(const std::optional<std::string>& project, int limit, const std::string& today,
                           std::vector<DueReview>* out) {
  out->clear();
  for (const char* c : kReviewColumns)
    if (!HasEntryColumn(c)) return Status::OK();
  // Rekall's project filter applies only to a non-empty project.
  const bool by_project = project && !project->empty();
  Stmt st(db_, "SELECT id, CAST(julianday(?1) - julianday(next_review) AS INTEGER), ease_factor FROM entries "
               "WHERE status = 'active' AND next_review IS NOT NULL AND next_review <= ?1 "
               "AND (?2 = 0 OR project = ?3) ORDER BY next_review ASC LIMIT ?4");
  st.Bind(1, today);
  st.Bind(2, static_cast<int64_t>(by_project));
  st.Bind(3, by_project ? *project : std::string());
  st.Bind(4, static_cast<int64_t>(limit));
  std::vector<DueReview> due;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    DueReview d;
    d.entry.id = st.Text(0);
    d.days_overdue = st.Int(1);
    d.ease_factor = StoredEase(st, 2);
    d.priority = static_cast<double>(d.days_overdue) + (3.0 - d.ease_factor);
    due.push_back(std::move(d));
  }
  Status s = st.Done(rc, "finding entries due for review");
  for (size_t i = 0; s.ok() && i < due.size(); ++i) s = Get(due[i].entry.id, &due[i].entry);
  if (!s.ok()) return s;
  // Python's sort is stable: equal priorities keep the next_review order.
  std::stable_sort(due.begin(), due.end(),
                   [](const DueReview& a, const DueReview& b) { return a.priority > b.priority; });
  *out = std::move(due);
  return Status::OK();
}

Status Store::RecordReview(const std::string& id, int quality, const std::string& today, ReviewSchedule* out) {
  if (quality < 0 || quality > 5) return Status::InvalidArgument("a review grade is 0 to 5");
  for (const char* c : kReviewColumns)
    if (!HasEntryColumn(c))
      return Status::Unavailable(std::string("this database has no `") + c + "` column (Rekall schema before 2)");
  return WithTransaction([&]() -> Status {
    Stmt get(db_, "SELECT review_interval, ease_factor FROM entries WHERE id = ?1");
    get.Bind(1, id);
    int rc = get.Step();
    if (rc == SQLITE_DONE) return Status::NotFound("no entry with id " + id);
    if (rc != SQLITE_ROW) return get.Done(rc, "reading the review schedule");
    *out = NextReviewSchedule(StoredInterval(get, 0), StoredEase(get, 1), quality);
    Stmt date(db_, "SELECT date(?1, ?2)");
    date.Bind(1, today);
    date.Bind(2, "+" + std::to_string(out->interval) + " days");
    if ((rc = date.Step()) != SQLITE_ROW || date.IsNull(0))
      return Status::InvalidArgument("not a date: " + today);
    out->next_review = date.Text(0);
    Stmt up(db_, "UPDATE entries SET review_interval = ?2, ease_factor = ?3, next_review = ?4 WHERE id = ?1");
    up.Bind(1, id);
    up.Bind(2, out->interval);
    up.BindDouble(3, out->ease_factor);
    up.Bind(4, out->next_review);
    return up.Run("recording a review");
  });
}

}  // namespace rekall::store
