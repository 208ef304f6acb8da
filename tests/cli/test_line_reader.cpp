// SPDX-License-Identifier: Apache-2.0
// LineReader (src/cli/line_reader.h), which --files-from, --resume and merge read through: lines across its
// 64 KiB read chunks, the length bound exactly at and one past the limit, an unterminated last line and the byte
// count --resume cuts back to, against the text split by a naive loop. (Refusing FIFOs and devices is
// io::open_regular's, tested with the special files suite and by cluster_scaleout through the binary.)
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "cli/line_reader.h"
#include "core/file_io.h"
#include "mnet/error.h"
#include "support/test_data.h"

namespace {

struct TempFile {
    std::string dir = mnet::test::make_temp_dir("line-reader");
    std::string path = dir + "/f.txt";
    explicit TempFile(const std::string& text) { mnet::test::write_text_file(path, text); }
    ~TempFile() { std::filesystem::remove_all(dir); }
};

struct ReadBack {
    std::vector<std::string> lines;
    bool last_terminated = true;
    uint64_t complete_bytes = 0;
};

ReadBack read_all(const std::string& text, size_t max_line) {
    const TempFile f(text);
    const mnet::io::ReadableFile file = mnet::io::open_regular(f.path, "test file");
    mnet::cli::LineReader reader(file.fd.get(), f.path, max_line);
    ReadBack r;
    std::string line;
    while (reader.next(line)) {
        r.lines.push_back(line);
        r.last_terminated = reader.terminated();
        CHECK(reader.line_number() == r.lines.size());
    }
    r.complete_bytes = reader.complete_bytes();
    return r;
}

// The oracle: split at '\n'; a final piece without one is a line too.
std::vector<std::string> naive_lines(const std::string& text) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text) {
        if (c == '\n') {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

}  // namespace

TEST_CASE("LineReader splits lines across its read chunks like a naive loop", "[cli][line_reader]") {
    std::string text;
    // Line lengths that put line ends on, just before and just after the 64 KiB chunk boundaries.
    for (size_t len : {0, 1, 65533, 65534, 65535, 65536, 3, 131071, 0, 131072, 7}) text += std::string(len, 'x') + "\n";
    const ReadBack r = read_all(text, 200000);
    CHECK(r.lines == naive_lines(text));
    CHECK(r.last_terminated);
    CHECK(r.complete_bytes == text.size());
}

TEST_CASE("LineReader returns an unterminated last line and counts only complete ones", "[cli][line_reader]") {
    const std::string text = std::string(70000, 'a') + "\nbb\n" + std::string(65536, 'c');
    const ReadBack r = read_all(text, 100000);
    CHECK(r.lines == naive_lines(text));
    CHECK_FALSE(r.last_terminated);
    CHECK(r.complete_bytes == 70000 + 1 + 3);
    CHECK(read_all("", 10).lines.empty());
}

TEST_CASE("LineReader's length bound: the limit passes, one byte more is an error naming the line",
          "[cli][line_reader]") {
    CHECK(read_all("ok\n" + std::string(100, 'x') + "\n", 100).lines.size() == 2);
    CHECK(read_all("ok\n" + std::string(100, 'x'), 100).lines.size() == 2);  // unterminated, at the limit
    for (const std::string& text : {"ok\n" + std::string(101, 'x') + "\n", "ok\n" + std::string(101, 'x'),
                                    "ok\n" + std::string(200000, 'x') + "\n"}) {
        try {
            read_all(text, 100);
            FAIL("a line over the limit was accepted");
        } catch (const mnet::Error& e) {
            CHECK(e.code() == mnet::ErrorCode::InvalidArgument);
            CHECK(std::string(e.what()).find("f.txt:2: a line longer than 100 bytes") != std::string::npos);
        }
    }
}
