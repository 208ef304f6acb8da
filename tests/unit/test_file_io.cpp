// SPDX-License-Identifier: Apache-2.0
// core/file_io: the escaping of names in messages, base64, the regular-file reads and their limits, the same-file
// check and the all-or-nothing writer.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "core/file_io.h"
#include "support/expect_error.h"
#include "support/test_data.h"

namespace fs = std::filesystem;

namespace mnet::test {

namespace {
std::string text_of(const std::string& path) {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    return std::string(bytes.begin(), bytes.end());
}
}  // namespace

TEST_CASE("printable escapes what a terminal would act on and keeps UTF-8 text", "[unit][io]") {
    CHECK(io::printable("photo.jpg") == "photo.jpg");
    CHECK(io::printable("caf\xc3\xa9 \xe6\x97\xa5.jpg") == "caf\xc3\xa9 \xe6\x97\xa5.jpg");
    CHECK(io::printable("a\nb\tc\rd") == "a\\nb\\tc\\rd");
    CHECK(io::printable("\x1b[31mred") == "\\e[31mred");
    CHECK(io::printable(std::string("nul\0x", 5)) == "nul\\x00x");
    CHECK(io::printable("x\xff.jpg") == "x\\xff.jpg");
    CHECK(io::printable("\xc2\x9b" "2J") == "\\xc2\\x9b2J");      // C1 CSI
    CHECK(io::printable("\xc0\xaf") == "\\xc0\\xaf");            // overlong '/'
    CHECK(io::printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");    // a surrogate
    CHECK(io::printable("\x7f") == "\\x7f");
}

TEST_CASE("is_valid_utf8 and base64 against RFC 3629 / RFC 4648 examples", "[unit][io]") {
    CHECK(io::is_valid_utf8("x\xef\xbf\xbd.jpg"));
    CHECK_FALSE(io::is_valid_utf8("x\xff.jpg"));
    CHECK_FALSE(io::is_valid_utf8("\xe6\x97"));  // truncated
    CHECK(io::base64("") == "");
    CHECK(io::base64("f") == "Zg==");
    CHECK(io::base64("fo") == "Zm8=");
    CHECK(io::base64("foo") == "Zm9v");
    CHECK(io::base64("foobar") == "Zm9vYmFy");
    CHECK(io::base64("x\xff") == "eP8=");
}

TEST_CASE("read_regular refuses special files by name and bounds every read", "[unit][io]") {
    const std::string dir = make_temp_dir("file-io");
    REQUIRE(::mkfifo((dir + "/fifo").c_str(), 0600) == 0);
    const ErrorCode io_code = ErrorCode::Io;
    expect_error([&] { io::read_regular(dir + "/fifo", 100, "label file"); }, io_code,
                 {dir + "/fifo: cannot read label file (is a FIFO, not a regular file)"});
    expect_error([&] { io::read_regular("/dev/zero", 100, "label file"); }, io_code, {"is a character device"});
    expect_error([&] { io::read_regular(dir, 100, "label file"); }, io_code, {"is a directory"});
    fs::create_symlink(dir + "/none", dir + "/dangling");
    expect_error([&] { io::read_regular(dir + "/dangling", 100, "label file"); }, io_code, {"dangling"});
    write_text_file(dir + "/big", std::string(101, 'x'));
    expect_error([&] { io::read_regular(dir + "/big", 100, "label file", ErrorCode::InvalidArgument); },
                 ErrorCode::InvalidArgument, {"label file too large (101 bytes, the limit is 100)"});
    CHECK(io::read_regular(dir + "/big", 101, "label file") == std::string(101, 'x'));
    fs::remove_all(dir);
}

TEST_CASE("read_regular_buffer holds a file's bytes, small and huge-page sized, with the same limits", "[unit][io]") {
    const std::string dir = make_temp_dir("file-io-buffer");
    for (const size_t size : {size_t{0}, size_t{1}, size_t{4097}, (size_t{5} << 20) + 3}) {
        CAPTURE(size);
        std::string bytes(size, '\0');
        for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
        write_text_file(dir + "/f", bytes);
        const io::ByteBuffer got = io::read_regular_buffer(dir + "/f", size, "weights file");
        REQUIRE(got.size() == size);
        CHECK(std::string(reinterpret_cast<const char*>(got.data()), got.size()) == bytes);
        CHECK(reinterpret_cast<uintptr_t>(got.data()) % 4096 == 0);  // the loader relies on aligned floats
        if (size > 0) {
            expect_error([&] { io::read_regular_buffer(dir + "/f", size - 1, "weights file", ErrorCode::ModelFormat); },
                         ErrorCode::ModelFormat, {"weights file too large (" + std::to_string(size) + " bytes"});
        }
    }
    expect_error([&] { io::read_regular_buffer("/dev/zero", 100, "weights file"); }, ErrorCode::Io,
                 {"is a character device"});
    fs::remove_all(dir);
}

TEST_CASE("ByteBuffer keeps its bytes when it grows past its reservation and when moved", "[unit][io]") {
    io::ByteBuffer b;
    b.reserve(10);
    b.resize(10);
    for (size_t i = 0; i < 10; ++i) b.data()[i] = static_cast<uint8_t>(i + 1);
    b.resize(size_t{3} << 20);  // past the reservation: a new mapping, huge-page sized
    b.data()[b.size() - 1] = 0xab;
    io::ByteBuffer moved(std::move(b));
    CHECK(b.size() == 0);
    REQUIRE(moved.size() == size_t{3} << 20);
    for (size_t i = 0; i < 10; ++i) CHECK(int(moved.data()[i]) == int(i + 1));
    CHECK(int(moved.data()[moved.size() - 1]) == 0xab);
    const uint8_t source[3] = {7, 8, 9};
    const io::ByteBuffer copy(source, 3);
    CHECK(std::vector<uint8_t>(copy.data(), copy.data() + copy.size()) == std::vector<uint8_t>{7, 8, 9});
}

TEST_CASE("refuse_overwriting_input sees through links and names, AtomicFile is all or nothing", "[unit][io]") {
    const std::string dir = make_temp_dir("file-io-out");
    write_text_file(dir + "/in.txt", "input");
    fs::create_hard_link(dir + "/in.txt", dir + "/hard.txt");
    fs::create_symlink(dir + "/in.txt", dir + "/soft.txt");
    for (const char* out : {"/in.txt", "/hard.txt", "/soft.txt"}) {
        expect_error([&] { io::refuse_overwriting_input(dir + out, "-o", {dir + "/in.txt"}); },
                     ErrorCode::InvalidArgument, {"is also an input"});
    }
    CHECK_NOTHROW(io::refuse_overwriting_input(dir + "/new.txt", "-o", {dir + "/in.txt"}));
    // A file read through io in an operation (InputScope) is remembered: no writer of it may replace it.
    io::InputScope operation;
    write_text_file(dir + "/labels.txt", "a\nb\n");
    io::read_regular(dir + "/labels.txt", 100, "label file");
    expect_error([&] { io::AtomicFile f(dir + "/labels.txt", "-o"); }, ErrorCode::InvalidArgument,
                 {"is also an input"});
    {
        io::AtomicFile f(dir + "/out.txt", "-o");
        f.write("partial");
    }  // not committed: nothing left
    CHECK(!fs::exists(dir + "/out.txt"));
    write_text_file(dir + "/out.txt", "old");
    {
        io::AtomicFile f(dir + "/out.txt", "-o");
        f.write("new");
        CHECK(text_of(dir + "/out.txt") == "old");  // untouched until commit
        f.commit();
    }
    CHECK(text_of(dir + "/out.txt") == "new");
    size_t entries = 0;
    for (const auto& e : fs::directory_iterator(dir)) entries += e.path().filename().string()[0] == '.';
    CHECK(entries == 0);  // no temporary file left
    expect_error([&] { io::AtomicFile f(dir, "-o"); }, ErrorCode::Io, {"Is a directory"});
    fs::remove_all(dir);
}

TEST_CASE("the inputs remembered are those of one operation (InputScope), not of the process", "[unit][io]") {
    const std::string dir = make_temp_dir("file-io-scope");
    write_text_file(dir + "/source.txt", "source");
    const auto convert = [&](const std::string& out) {  // what an importer does: read, write, read back
        io::read_regular(dir + "/source.txt", 100, "source");
        io::write_file_atomically(out, "-o", "converted");
        CHECK(io::read_regular(out, 100, "converted model") == "converted");
    };
    {
        io::InputScope first;
        convert(dir + "/out.txt");
    }
    {
        io::InputScope second;  // the same name again in the same process: out.txt is no input of this one
        CHECK_NOTHROW(convert(dir + "/out.txt"));
        // Within one operation, its own inputs are still refused, also through a link and when read after the
        // output was opened.
        expect_error([&] { io::AtomicFile f(dir + "/source.txt", "-o"); }, ErrorCode::InvalidArgument,
                     {"source.txt (-o): is also an input"});
        fs::create_symlink(dir + "/source.txt", dir + "/link.txt");
        expect_error([&] { io::AtomicFile f(dir + "/link.txt", "-o"); }, ErrorCode::InvalidArgument,
                     {"is also an input"});
        write_text_file(dir + "/late.txt", "late");
        io::AtomicFile late(dir + "/late.txt", "-o");
        late.write("overwritten");
        io::read_regular(dir + "/late.txt", 100, "label file");
        expect_error([&] { late.commit(); }, ErrorCode::InvalidArgument, {"is also an input"});
    }
    CHECK(text_of(dir + "/source.txt") == "source");
    CHECK(text_of(dir + "/late.txt") == "late");
    // No scope: nothing is remembered between calls.
    io::read_regular(dir + "/source.txt", 100, "source");
    CHECK_NOTHROW(io::refuse_overwriting_input(dir + "/source.txt", "-o"));
    fs::remove_all(dir);
}

TEST_CASE("a nested InputScope hands its inputs to the enclosing one", "[unit][io]") {
    const std::string dir = make_temp_dir("file-io-nested");
    write_text_file(dir + "/list.txt", "a");
    io::InputScope command;
    {
        io::InputScope step;
        io::read_regular(dir + "/list.txt", 100, "list");
    }
    expect_error([&] { io::refuse_overwriting_input(dir + "/list.txt", "-o"); }, ErrorCode::InvalidArgument,
                 {"is also an input"});
    fs::remove_all(dir);
}

}  // namespace mnet::test
