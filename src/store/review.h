// Rekall's spaced repetition (SM-2, simplified as Rekall does it): the
// values of one entry's schedule, kept apart from store.h so that
// engine/engine.h can show them without SQLite's headers.
#pragma once

#include <cstdint>
#include <string>

#include "store/entry.h"

namespace rekall::store {

// An entry's place in Rekall's SM-2 review: columns review_interval (days),
// ease_factor and next_review (a date).
struct ReviewSchedule {
  int64_t interval = 1;
  double ease_factor = 2.5;
  std::string next_review;  // YYYY-MM-DD
};

// What grade `quality` (0 to 5) makes of an entry at `interval` and `ease`,
// computed exactly as Rekall computes it (next_review left empty): a failed
// recall (below 3) goes back to 1 day; otherwise the interval grows by a
// factor of the grade alone (not the stored ease factor), truncated.
ReviewSchedule NextReviewSchedule(int64_t interval, double ease, int quality);

// An entry due for review (Store::DueForReview).
struct DueReview {
  Entry entry;
  int64_t days_overdue = 0;
  double ease_factor = 2.5;
  double priority = 0;  // Rekall's: days overdue + (3 - ease factor)
};

}  // namespace rekall::store
