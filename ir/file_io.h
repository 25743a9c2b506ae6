#ifndef LEMMA_IR_FILE_IO_H_
#define LEMMA_IR_FILE_IO_H_

// Whole-file reads and atomic whole-file writes.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lemma {

/// The contents of the file at `path`. Errors name the path and the system's
/// reason ("cannot open 'x.lemma': No such file or directory"), with the
/// status code that errno maps to (NotFound, PermissionDenied, ...).
absl::StatusOr<std::string> ReadFile(const std::string& path);

/// Replaces the file at `path` with `contents` atomically: writes a temporary
/// file in the same directory, fsyncs it, renames it over `path` and fsyncs
/// the directory. Readers see the old file or the new one, never a partial
/// one. On failure the temporary is removed and `path` is unchanged. The file
/// keeps the permission bits of the file it replaces; a new file gets 0644.
/// A symbolic link at `path` is replaced by a regular file.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

}  // namespace lemma

#endif  // LEMMA_IR_FILE_IO_H_
