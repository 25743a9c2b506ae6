#ifndef LEMMA_GENERATOR_SHARD_FILE_H_
#define LEMMA_GENERATOR_SHARD_FILE_H_

// A shard file: what one shard of `lemma generate` enumerated, for `lemma
// generate merge`. A text header, then the shard's graph records sorted by
// (fingerprint, code), 16 bytes each (two little-endian 64-bit words):
//
//   lemma-generate-shard 1
//   options 3 1 - -                   (max_ops seed ops inputs; - for all)
//   shard 0 4
//   units 151
//   stats 2153001 33012 20 130441 578601   (graphs duplicates dropped evaluations cache_hits)
//   stop 0
//   records 2153023
//   <records>
//
// Files are written to a temporary name and renamed when complete, so a
// reader never sees a partial file; reading streams the records.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "generator/enumerate.h"

namespace lemma {

/// The header of a shard file.
struct ShardHeader {
  std::string options;
  int shard_index = 0;
  int shard_count = 1;
  int64_t work_units = 0;
  EnumerationStats stats;
  int stop = 0;
  int64_t records = 0;
};

/// Writes a shard file: Open, Write every record in order, Commit.
class ShardWriter {
 public:
  /// Creates a temporary file beside `path` and writes the header; the
  /// header's record count is what Commit expects.
  static absl::StatusOr<ShardWriter> Open(const std::string& path, const ShardHeader& header);
  ShardWriter(ShardWriter&& other) noexcept;
  ShardWriter& operator=(ShardWriter&&) = delete;
  ShardWriter(const ShardWriter&) = delete;
  /// Removes the temporary file unless committed.
  ~ShardWriter();

  /// Appends one record (records must come in (fingerprint, code) order).
  absl::Status Write(const GraphRecord& record);
  /// Checks the record count, flushes, syncs and renames into place.
  absl::Status Commit();

 private:
  ShardWriter() = default;
  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  int64_t expected_ = 0, written_ = 0;
};

/// Reads a shard file: the header at Open, then the records in order.
class ShardReader {
 public:
  /// Opens `path` and reads its header; errors name the file and what is wrong.
  static absl::StatusOr<std::unique_ptr<ShardReader>> Open(const std::string& path);
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;

  const ShardHeader& header() const { return header_; }
  /// The next record; false at the end or on an error (see status()).
  bool Next(GraphRecord& out);
  /// An error found while reading (a truncated or unsorted file), or OK.
  const absl::Status& status() const { return status_; }

 private:
  ShardReader() = default;
  std::string path_;
  std::FILE* file_ = nullptr;
  ShardHeader header_;
  std::vector<unsigned char> buffer_;
  size_t pos_ = 0, end_ = 0;
  int64_t read_ = 0;
  GraphRecord last_;
  absl::Status status_;
};

}  // namespace lemma

#endif  // LEMMA_GENERATOR_SHARD_FILE_H_
