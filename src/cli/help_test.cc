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

namespace rekall::cli {
namespace {

// A command's own footer (search explains its modes there) stays above its
// examples.
TEST(HelpTest, ExamplesFollowACommandsOwnFooter) {
  CLI::App app{"rekall"};
  CLI::App* search = app.add_subcommand("search", "Search");
  search->footer("Modes: hybrid is the default.");
  CLI::App* doctor = app.add_subcommand("doctor", "Check");
  AddExamples(&app);
  std::string s = search->get_footer(), d = doctor->get_footer();
  ASSERT_NE(s.find("Modes: hybrid is the default."), std::string::npos) << s;
  EXPECT_GT(s.find("Examples:"), s.find("Modes:")) << s;
  EXPECT_EQ(d.rfind("\nExamples:\n", 0), 0u) << d;
}

}  // namespace
}  // namespace rekall::cli
