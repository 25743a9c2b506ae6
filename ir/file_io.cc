#include "ir/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "ir/strings.h"

namespace lemma {
namespace {

absl::Status ErrnoError(int error, std::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(error, ToAbsl(StrCat("cannot ", what, " '", path, "'")));
}

// Writes all of `data` to `fd`, retrying short writes and interruptions.
absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "write a temporary file for", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Fills the temporary `fd`, gives it the mode `path` has (or 0644), syncs and
// closes it. Closes `fd` in every case.
absl::Status FillAndClose(int fd, std::string_view contents, const std::string& path) {
  struct stat st;
  const mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  absl::Status s = WriteAll(fd, contents, path);
  if (s.ok() && ::fchmod(fd, mode) != 0) s = ErrnoError(errno, "set the mode of", path);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoError(errno, "sync a temporary file for", path);
  if (::close(fd) != 0 && s.ok()) s = ErrnoError(errno, "close a temporary file for", path);
  return s;
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes a rename in `dir` durable. Best effort: the rename already happened.
void SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open", path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return ErrnoError(error, "read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "create a temporary file for", path);
  absl::Status s = FillAndClose(fd, contents, path);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = ErrnoError(errno, "rename a temporary file to", path);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  SyncDirectory(DirectoryOf(path));
  return absl::OkStatus();
}

}  // namespace lemma
