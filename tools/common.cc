#include "tools/common.h"

#include <unistd.h>

#include <cstdio>

#include "ir/file_io.h"
#include "ir/strings.h"

namespace lemma::cli {

int Fail(std::string_view command, const absl::Status& status) {
  std::fprintf(stderr, "lemma %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               std::string(status.message()).c_str());
  return kExitError;
}

absl::Status Emit(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return absl::OkStatus();
  }
  return WriteFileAtomically(path, text);
}

absl::StatusOr<std::string> RenderSvg(const std::string& dot) {
  char path[] = "/tmp/lemma-dot-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return absl::InternalError("cannot create a temporary file for Graphviz");
  close(fd);
  if (absl::Status s = WriteFileAtomically(path, dot); !s.ok()) return s;
  std::FILE* pipe = popen(StrCat("dot -Tsvg '", path, "' 2>&1").c_str(), "r");
  std::string svg;
  if (pipe != nullptr) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) svg.append(buf, n);
  }
  const int rc = pipe == nullptr ? -1 : pclose(pipe);
  std::remove(path);
  if (rc != 0) {
    return absl::FailedPreconditionError(
        StrCat("Graphviz 'dot' failed (is graphviz installed? make deps installs it): ", svg));
  }
  return svg;
}

absl::Status WritePicture(const std::string& dot, const std::string& dot_path,
                          const std::string& svg_path) {
  if (!dot_path.empty()) {
    if (absl::Status s = Emit(dot_path, dot); !s.ok()) return s;
  }
  if (svg_path.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> svg = RenderSvg(dot);
  if (!svg.ok()) return svg.status();
  return WriteFileAtomically(svg_path, *svg);
}

std::string DefaultRulesPath() {
  constexpr const char* kRelative = "rules/default.rules";
  if (access(kRelative, R_OK) == 0) return kRelative;
  return StrCat(LEMMA_SOURCE_DIR, "/", kRelative);
}

}  // namespace lemma::cli
