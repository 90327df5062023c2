// Rekall's SM-2 review on its columns: which entries are due, and what a
// grade writes.
#include <gtest/gtest.h>

#include "store/store.h"
#include "util/temp_dir_for_test.h"

namespace rekall::store {
namespace {

class ReviewStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = Store::Open(dir_.file("k.db"), OpenOptions(), &store_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string Add(const std::string& title, const std::string& project = "p") {
    Entry e;
    e.title = title;
    e.type = "bug";
    e.project = project;
    Status s = store_->Add(&e);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return e.id;
  }
  void Set(const std::string& id, const std::string& assignments) {
    ASSERT_TRUE(sqlite::Exec(store_->db(), "UPDATE entries SET " + assignments + " WHERE id = '" + id + "'", "t").ok());
  }
  std::string Text(const std::string& id, const std::string& col) {
    sqlite::Stmt st(store_->db(), "SELECT " + col + " FROM entries WHERE id = ?");
    st.Bind(1, id);
    EXPECT_EQ(st.Step(), SQLITE_ROW);
    return st.Text(0);
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

// Rekall's formulas (models.py calculate_next_interval, db.py
// update_review_schedule), worked by hand.
TEST(NextReviewScheduleTest, RekallsArithmetic) {
  ReviewSchedule r = NextReviewSchedule(1, 2.5, 3);
  EXPECT_EQ(r.interval, 2);  // int(1 * 2.5)
  EXPECT_DOUBLE_EQ(r.ease_factor, 2.5 + 0.1 - 2 * (0.08 + 2 * 0.02));
  r = NextReviewSchedule(10, 2.5, 5);
  EXPECT_EQ(r.interval, 27);  // int(10 * 2.7): the grade's factor, not the stored ease
  EXPECT_DOUBLE_EQ(r.ease_factor, 2.6);
  r = NextReviewSchedule(10, 2.5, 4);
  EXPECT_EQ(r.interval, 26);
  r = NextReviewSchedule(30, 1.35, 2);
  EXPECT_EQ(r.interval, 1);  // failed recall
  EXPECT_DOUBLE_EQ(r.ease_factor, 1.3);  // floored
  r = NextReviewSchedule(7, 2.0, 1);
  EXPECT_EQ(r.interval, 1);
  EXPECT_DOUBLE_EQ(r.ease_factor, 2.0 + 0.1 - 4 * (0.08 + 4 * 0.02));
}

TEST_F(ReviewStoreTest, DueEntriesMostUrgentFirst) {
  std::string never = Add("never scheduled");
  std::string future = Add("future");
  std::string late = Add("late");
  std::string today = Add("today, hard");
  std::string obsolete = Add("obsolete");
  std::string other = Add("other project", "q");
  Set(future, "next_review = '2026-12-02'");
  Set(late, "next_review = '2026-11-20', ease_factor = 2.5");
  Set(today, "next_review = '2026-11-30', ease_factor = 1.3");
  Set(obsolete, "next_review = '2026-11-01', status = 'obsolete'");
  Set(other, "next_review = '2026-11-29'");
  std::vector<DueReview> due;
  ASSERT_TRUE(store_->DueForReview(std::nullopt, 10, "2026-11-30", &due).ok());
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0].entry.id, late);  // 10 + 0.5
  EXPECT_EQ(due[0].days_overdue, 10);
  EXPECT_EQ(due[0].entry.title, "late");
  EXPECT_EQ(due[1].entry.id, today);  // 0 + 1.7
  EXPECT_EQ(due[2].entry.id, other);  // 1 + 0.5
  ASSERT_TRUE(store_->DueForReview(std::string("q"), 10, "2026-11-30", &due).ok());
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].entry.id, other);
  // The limit takes the earliest next_review first, then sorts by priority.
  ASSERT_TRUE(store_->DueForReview(std::nullopt, 2, "2026-11-30", &due).ok());
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].entry.id, late);
  EXPECT_EQ(due[1].entry.id, other);
  (void)never;
}

TEST_F(ReviewStoreTest, RecordReviewWritesRekallsColumns) {
  std::string id = Add("x");
  Set(id, "next_review = '2026-11-30', review_interval = 10, ease_factor = 2.5, last_accessed = NULL");
  ReviewSchedule r;
  ASSERT_TRUE(store_->RecordReview(id, 5, "2026-11-30", &r).ok());
  EXPECT_EQ(r.interval, 27);
  EXPECT_EQ(r.next_review, "2026-12-27");
  EXPECT_EQ(Text(id, "review_interval"), "27");
  EXPECT_EQ(Text(id, "next_review"), "2026-12-27");
  EXPECT_DOUBLE_EQ(std::stod(Text(id, "ease_factor")), 2.6);
  EXPECT_EQ(Text(id, "typeof(last_accessed)"), "null");  // not a read
  // NULL columns read as Rekall reads them: interval 1, ease 2.5.
  Set(id, "review_interval = NULL, ease_factor = NULL");
  ASSERT_TRUE(store_->RecordReview(id, 3, "2026-12-31", &r).ok());
  EXPECT_EQ(r.interval, 2);
  EXPECT_EQ(r.next_review, "2027-01-02");
  EXPECT_TRUE(store_->RecordReview(id, 6, "2026-12-31", &r).IsInvalidArgument());
  EXPECT_TRUE(store_->RecordReview("01ZZZZZZZZZZZZZZZZZZZZZZZZ", 3, "2026-12-31", &r).IsNotFound());
}

}  // namespace
}  // namespace rekall::store
