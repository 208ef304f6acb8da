// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the Keras importer (tools/keras), all three of its readers, as mnet-convert runs it: the model is
// converted, and a model the importer accepts is written and loaded back with the loader's full validation.
// Input: a Keras HDF5 file (it starts with the HDF5 signature), a Keras 3 .keras archive (it starts with a zip
// local file header), or else a TF.js layers folder packed as model.json, NUL, metadata.json (empty: none), NUL,
// weights.bin (fuzz_support.h). The readers take paths (HDF5 opens files by name, mnet-convert tells an archive by
// its first bytes, TF.js finds its shards beside model.json), so the input is written to a scratch folder.
// Every input must end in a loaded model or an mnet::Error; any other exception escapes and aborts the run, and so
// does an HDF5 object a reader left open (the archive's model.weights.h5 is read through HDF5 too).
#include <hdf5.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "fuzz_support.h"
#include "keras_importer.h"
#include "mnet/error.h"
#include "graph/loader.h"

namespace {

// The HDF5 superblock signature, HDF5 File Format Specification section II.A.
constexpr char kHdf5Signature[] = "\x89HDF\r\n\x1a\n";
constexpr size_t kHdf5SignatureBytes = sizeof kHdf5Signature - 1;

// A zip's local file header (PKWARE APPNOTE 4.3.7), which a .keras archive starts with.
constexpr char kZipSignature[] = "PK\x03\x04";
constexpr size_t kZipSignatureBytes = sizeof kZipSignature - 1;

bool starts_with(const uint8_t* data, size_t size, const char* signature, size_t signature_bytes) {
    return size >= signature_bytes && std::memcmp(data, signature, signature_bytes) == 0;
}
bool is_hdf5(const uint8_t* data, size_t size) { return starts_with(data, size, kHdf5Signature, kHdf5SignatureBytes); }
bool is_zip(const uint8_t* data, size_t size) { return starts_with(data, size, kZipSignature, kZipSignatureBytes); }

// Writes the input where the importer will look for it and returns the path to import.
std::string stage(const uint8_t* data, size_t size) {
    namespace fs = std::filesystem;
    const fs::path dir = mnet::fuzz::scratch_dir();
    if (is_hdf5(data, size) || is_zip(data, size)) {
        const std::string path = (dir / (is_hdf5(data, size) ? "model.h5" : "model.keras")).string();
        mnet::fuzz::write_scratch_file(path, std::string(reinterpret_cast<const char*>(data), size));
        return path;
    }
    const std::vector<std::string> parts = mnet::fuzz::split_parts(data, size, 3);
    mnet::fuzz::write_scratch_file((dir / "model.json").string(), parts[0]);
    if (parts[1].empty()) {
        std::error_code ignored;
        fs::remove(dir / "metadata.json", ignored);
    } else {
        mnet::fuzz::write_scratch_file((dir / "metadata.json").string(), parts[1]);
    }
    mnet::fuzz::write_scratch_file((dir / "weights.bin").string(), parts[2]);
    return (dir / "model.json").string();
}

}  // namespace

// libhdf5 (Debian's 1.10.8, not ours to fix) mallocs buffers whose sizes it reads from the file before checking
// them against the file's end, and leaks a few blocks on some error paths inside H5Fopen (docs/fuzzing.md). Neither
// makes memory grow in use: a size beyond the machine fails malloc and HDF5 reports an error, which the reader
// translates, and a size that fits is not touched: in the case traced (H5C_protect loading an object header) the
// read past the end of the file is refused after the malloc and before anything is written to the buffer. So
// under ASan malloc may return null, as it does in a normal build, and leaks allocated inside libhdf5 are not
// findings. Leaks of our own allocations, and HDF5 objects the reader leaves open, still are.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5*\n"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = stage(data, size);
    try {
        mnet::ModelWriter writer = mnet::importer::import_keras(path, {});
        const std::string manifest = writer.manifest_json("fuzz.bin");
        mnet::load_model_from_memory(manifest, writer.weights_bytes(), "fuzz.json");
    } catch (const mnet::Error&) {
        // A clean rejection.
    }
    // Only after an input a reader may have opened with HDF5: the reader must be the first to use HDF5 in the process
    // (see read_keras_h5). An archive refused before its weights entry has not used HDF5, so the check itself first
    // does what the readers do before HDF5's first use.
    const bool may_use_hdf5 = is_hdf5(data, size) || is_zip(data, size);
    if (may_use_hdf5) H5dont_atexit();
    if (const ssize_t open = may_use_hdf5 ? H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) : 0; open != 0) {
        std::fprintf(stderr, "fuzz_keras: %zd HDF5 objects left open\n", open);
        std::abort();
    }
    return 0;
}
