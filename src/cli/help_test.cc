#include <gtest/gtest.h>

#include "cli/help.h"
#include "cli/progress.h"

namespace rekall::cli {
namespace {

TEST(HelpTest, NearestCommandForTyposAndPrefixes) {
  std::vector<std::string> names = {"add", "search", "similar", "import", "export", "index", "mcp-config", "doctor"};
  EXPECT_EQ(NearestCommand("serach", names), "search");
  EXPECT_EQ(NearestCommand("imprt", names), "import");
  EXPECT_EQ(NearestCommand("docter", names), "doctor");
  EXPECT_EQ(NearestCommand("mcp", names), "mcp-config");
  EXPECT_EQ(NearestCommand("frobnicate", names), "");
}

TEST(ProgressTest, LineShowsTheCountAndTheTimeLeft) {
  using std::chrono::seconds;
  EXPECT_EQ(Progress::Line("embedded", 0, 400, seconds(0)), "[                              ] 0/400 embedded");
  // 100 of 400 in 20 s: 300 more at the same rate take 60 s.
  EXPECT_EQ(Progress::Line("embedded", 100, 400, seconds(20)),
            "[#######                       ] 100/400 embedded, 1:00 left");
  EXPECT_EQ(Progress::Line("embedded", 400, 400, seconds(80)), "[##############################] 400/400 embedded");
  EXPECT_EQ(Progress::Line("embedded", 0, 0, seconds(0)), "[##############################] 0/0 embedded");
}

}  // namespace
}  // namespace rekall::cli
