// The fixture of the CLI tests: runs the `rekall` binary as a user would
// (arguments, stdin, stdout, stderr, the exit code) on a temporary database.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::string Slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rekall_cli_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
    db_ = dir_ + "/k.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Runs rekall with args (each quoted), stdin from `input`.
  Result Run(const std::vector<std::string>& args, const std::string& input = "", bool with_db = true) {
    std::string cmd = std::string("cd ") + Quote(dir_) + " && env -u REKALL_HOME -u REKALL_DB_PATH XDG_CONFIG_HOME=" +
                      Quote(dir_ + "/cfg") + " " + env_ + Quote(REKALL_BIN);
    if (with_db) cmd += " --db " + Quote(db_);
    for (const auto& a : args) cmd += " " + Quote(a);
    return RunShell(cmd, input);
  }
  // Runs shell command `cmd` with stdin from `input`, capturing stdout,
  // stderr and the exit code.
  Result RunShell(std::string cmd, const std::string& input = "") {
    std::ofstream(dir_ + "/stdin", std::ios::binary) << input;
    cmd += " <" + Quote(dir_ + "/stdin") + " >" + Quote(dir_ + "/stdout") + " 2>" + Quote(dir_ + "/stderr");
    int st = std::system(cmd.c_str());
    Result r;
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = Slurp(dir_ + "/stdout");
    r.err = Slurp(dir_ + "/stderr");
    return r;
  }
  std::string AddEntry(const std::string& title, const std::string& type = "bug") {
    Result r = Run({"--json", "--quiet", "add", "--title", title, "--type", type, "--content", "body of " + title,
                    "--tag", "t1,t2", "--project", "p"});
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out)["id"].get<std::string>();
  }
  std::string dir_, db_;
  std::string env_;  // more NAME=value words for the environment, each followed by a space
};

}  // namespace
