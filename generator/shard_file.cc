#include "generator/shard_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/strings.h"

namespace lemma {
namespace {

constexpr char kMagic[] = "lemma-generate-shard 1";
constexpr size_t kRecordBytes = 16;
constexpr size_t kBufferRecords = 1 << 14;

void PutWord(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

uint64_t GetWord(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(StrCat("cannot ", what, " '", path, "': ", std::strerror(errno)));
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::StatusOr<ShardWriter> ShardWriter::Open(const std::string& path, const ShardHeader& h) {
  ShardWriter w;
  w.path_ = path;
  w.temp_ = StrCat(path, ".tmp-XXXXXX");
  const int fd = mkstemp(w.temp_.data());
  if (fd < 0) return Errno("create a temporary file for", path);
  if (fchmod(fd, 0644) != 0) {
    close(fd);
    std::remove(w.temp_.c_str());
    return Errno("set the permissions of", w.temp_);
  }
  w.file_ = fdopen(fd, "wb");
  if (w.file_ == nullptr) {
    close(fd);
    std::remove(w.temp_.c_str());
    return Errno("open", w.temp_);
  }
  w.expected_ = h.records;
  const std::string text =
      StrCat(kMagic, "\noptions ", h.options, "\nshard ", h.shard_index, " ", h.shard_count,
             "\nunits ", h.work_units, "\nstats ", h.stats.graphs, " ", h.stats.duplicates, " ",
             h.stats.dropped, " ", h.stats.evaluations, " ", h.stats.cache_hits, "\nstop ", h.stop,
             "\nrecords ", h.records, "\n");
  if (std::fwrite(text.data(), 1, text.size(), w.file_) != text.size()) return Errno("write", w.temp_);
  return w;
}

ShardWriter::ShardWriter(ShardWriter&& o) noexcept
    : path_(std::move(o.path_)), temp_(std::move(o.temp_)), file_(o.file_),
      expected_(o.expected_), written_(o.written_) {
  o.file_ = nullptr;
  o.temp_.clear();
}

ShardWriter::~ShardWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!temp_.empty()) std::remove(temp_.c_str());
}

absl::Status ShardWriter::Write(const GraphRecord& r) {
  unsigned char bytes[kRecordBytes];
  PutWord(bytes, r.fingerprint);
  PutWord(bytes + 8, r.code);
  if (std::fwrite(bytes, 1, kRecordBytes, file_) != kRecordBytes) return Errno("write", temp_);
  ++written_;
  return absl::OkStatus();
}

absl::Status ShardWriter::Commit() {
  if (written_ != expected_) {
    return absl::InternalError(StrCat("shard file '", path_, "': ", written_,
                                      " records written, ", expected_, " announced"));
  }
  if (std::fflush(file_) != 0 || fsync(fileno(file_)) != 0) return Errno("write", temp_);
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    return Errno("close", temp_);
  }
  file_ = nullptr;
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) return Errno("rename into", path_);
  temp_.clear();
  const int dir = open(DirOf(path_).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ShardReader>> ShardReader::Open(const std::string& path) {
  std::unique_ptr<ShardReader> r(new ShardReader());
  r->path_ = path;
  r->file_ = std::fopen(path.c_str(), "rb");
  if (r->file_ == nullptr) return Errno("open", path);
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(StrCat("'", path, "' is not a lemma shard file: ", why));
  };
  char line[4096];
  auto next = [&](std::string_view key) -> std::optional<std::string> {
    if (std::fgets(line, sizeof line, r->file_) == nullptr) return std::nullopt;
    std::string s(line);
    if (s.empty() || s.back() != '\n') return std::nullopt;
    s.pop_back();
    if (key.empty()) return s;
    if (s.compare(0, key.size(), key) != 0 || s.size() <= key.size() || s[key.size()] != ' ') {
      return std::nullopt;
    }
    return s.substr(key.size() + 1);
  };
  std::optional<std::string> magic = next("");
  if (!magic || *magic != kMagic) return bad("it does not start with '" + std::string(kMagic) + "'");
  ShardHeader& h = r->header_;
  std::optional<std::string> options = next("options");
  std::optional<std::string> shard = next("shard");
  std::optional<std::string> units = next("units");
  std::optional<std::string> stats = next("stats");
  std::optional<std::string> stop = next("stop");
  std::optional<std::string> records = next("records");
  if (!options || !shard || !units || !stats || !stop || !records) return bad("a header line is missing");
  h.options = *options;
  long long graphs, dups, dropped, evals, hits;
  if (std::sscanf(shard->c_str(), "%d %d", &h.shard_index, &h.shard_count) != 2 ||
      h.shard_count < 1 || h.shard_index < 0 || h.shard_index >= h.shard_count) {
    return bad("bad shard line");
  }
  long long n_units, n_records;
  if (std::sscanf(units->c_str(), "%lld", &n_units) != 1 ||
      std::sscanf(stats->c_str(), "%lld %lld %lld %lld %lld", &graphs, &dups, &dropped, &evals, &hits) != 5 ||
      std::sscanf(stop->c_str(), "%d", &h.stop) != 1 ||
      std::sscanf(records->c_str(), "%lld", &n_records) != 1 || n_records < 0) {
    return bad("bad counts");
  }
  h.work_units = n_units;
  h.stats = EnumerationStats{graphs, dups, dropped, evals, hits};
  h.records = n_records;
  r->buffer_.resize(kBufferRecords * kRecordBytes);
  return r;
}

ShardReader::~ShardReader() {
  if (file_ != nullptr) std::fclose(file_);
}

bool ShardReader::Next(GraphRecord& out) {
  if (!status_.ok() || read_ == header_.records) return false;
  if (pos_ == end_) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(
        static_cast<int64_t>(kBufferRecords), header_.records - read_));
    const size_t got = std::fread(buffer_.data(), kRecordBytes, want, file_);
    if (got == 0) {
      status_ = absl::DataLossError(StrCat("shard file '", path_, "' is truncated: ", read_,
                                           " of ", header_.records, " records"));
      return false;
    }
    pos_ = 0;
    end_ = got * kRecordBytes;
  }
  out.fingerprint = GetWord(buffer_.data() + pos_);
  out.code = GetWord(buffer_.data() + pos_ + 8);
  pos_ += kRecordBytes;
  if (read_ > 0 && out < last_) {
    status_ = absl::DataLossError(StrCat("shard file '", path_, "' is not sorted at record ", read_));
    return false;
  }
  last_ = out;
  ++read_;
  return true;
}

}  // namespace lemma
