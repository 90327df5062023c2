#include "util/env.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace rekall {

Env::~Env() = default;

namespace {

Status PosixError(const std::string& path, int err) { return Status::IOError(path + ": " + std::strerror(err)); }

bool StatMode(const std::string& path, mode_t* mode) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return false;
  *mode = sb.st_mode;
  return true;
}

// A "Key:   1234 kB" line of /proc/self/status, in bytes.
size_t ProcStatusBytes(const char* key) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  unsigned long long kb = 0;
  const size_t klen = std::strlen(key);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, key, klen) == 0 && line[klen] == ':') {
      if (std::sscanf(line + klen + 1, "%llu", &kb) != 1) kb = 0;
      break;
    }
  }
  std::fclose(f);
  return static_cast<size_t>(kb) * 1024;
}

class PosixEnv final : public Env {
 public:
  std::string GetEnv(const std::string& name) override {
    const char* v = std::getenv(name.c_str());
    return v ? std::string(v) : std::string();
  }

  bool FileExists(const std::string& path) override {
    mode_t m;
    return StatMode(path, &m);
  }
  bool IsDirectory(const std::string& path) override {
    mode_t m;
    return StatMode(path, &m) && S_ISDIR(m);
  }
  bool IsRegularFile(const std::string& path) override {
    mode_t m;
    return StatMode(path, &m) && S_ISREG(m);
  }
  bool IsSymlink(const std::string& path) override {
    struct stat sb;
    return ::lstat(path.c_str(), &sb) == 0 && S_ISLNK(sb.st_mode);
  }
  bool CanRead(const std::string& path) override { return ::access(path.c_str(), R_OK) == 0; }
  bool CanWrite(const std::string& path) override { return ::access(path.c_str(), W_OK) == 0; }

  Status CreateDirs(const std::string& dir, int mode) override {
    // Every prefix ending at a '/', then the whole path; each may exist.
    for (size_t i = 1; i <= dir.size(); ++i) {
      if (i < dir.size() && dir[i] != '/') continue;
      const std::string prefix = dir.substr(0, i);
      if (::mkdir(prefix.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) return PosixError(prefix, errno);
    }
    return IsDirectory(dir) ? Status::OK() : Status::IOError(dir + ": not a directory");
  }

  Status CreateNewFile(const std::string& path, int mode) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0) return PosixError(path, errno);
    ::close(fd);
    return Status::OK();
  }

  Status ChangeMode(const std::string& path, int mode) override {
    return ::chmod(path.c_str(), static_cast<mode_t>(mode)) == 0 ? Status::OK() : PosixError(path, errno);
  }

  Status SyncFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(path, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    return rc == 0 ? Status::OK() : PosixError(path, err);
  }

  Status RemoveFile(const std::string& path) override {
    return ::unlink(path.c_str()) == 0 ? Status::OK() : PosixError(path, errno);
  }

  std::chrono::steady_clock::time_point NowSteady() override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point NowSystem() override { return std::chrono::system_clock::now(); }

  size_t CurrentRssBytes() override { return ProcStatusBytes("VmRSS"); }
  size_t PeakRssBytes() override { return ProcStatusBytes("VmHWM"); }
  bool LowerThreadPriority() override {
    // Linux keeps the nice value per thread; threads started later inherit it.
    return setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19) == 0;
  }
};

}  // namespace

Env* Env::Default() {
  static Env* env = new PosixEnv();  // never deleted: used until exit
  return env;
}

}  // namespace rekall
