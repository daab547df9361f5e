// Reading whole input files with errors that name the file.
#pragma once

#include <cstddef>
#include <string>

#include "hs/common/error.h"

namespace hs {

// Reads a regular file completely. Errors (each naming `path`): NotFound if it does not
// exist, PermissionDenied, InvalidArgument if it is a directory or larger than `max_bytes`
// (default 256 MiB), Unavailable for other I/O errors.
Result<std::string> read_file(const std::string& path, size_t max_bytes = size_t{256} << 20);

// Writes `data` to `path` atomically: a temporary file in the same directory, fsync, rename.
// Readers see the old or the new content, never a partial one.
Status write_file_atomic(const std::string& path, const std::string& data, unsigned mode = 0644);

}  // namespace hs
