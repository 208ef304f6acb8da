// SPDX-License-Identifier: Apache-2.0
// mnet: keeps the image decoders' own stderr chatter (libpng "libpng warning: iCCP: known incorrect sRGB
// profile", libjpeg "Corrupt JPEG data: ...", OpenCV's log lines) out of a program's output, and puts the
// decoder's last word into the image's error message instead, so a bad file is reported in one line.
#pragma once

#include <string>

namespace mnet {

// Replaces the process's `stderr` FILE (and std::cerr's buffer, which OpenCV logs through) with an unbuffered
// stream that writes to file descriptor 2 exactly as before, except that whatever a thread writes while it is
// inside a DecoderMessages scope is kept by that scope instead. Process-wide and not reversible: call it once
// from main() before any other thread starts. Returns false, changing nothing, if the stream cannot be made.
// Without it, decoder messages simply reach stderr as they always did.
bool capture_decoder_messages();

// While alive, this thread's stderr output (once capture_decoder_messages() has run) is collected here.
// Scopes do not nest. Not copyable.
class DecoderMessages {
public:
    DecoderMessages();
    ~DecoderMessages();
    DecoderMessages(const DecoderMessages&) = delete;
    DecoderMessages& operator=(const DecoderMessages&) = delete;

    // The last non-empty line collected, printable ASCII, at most 200 characters; "" if none.
    std::string last_line() const;

private:
    std::string text_;
};

}  // namespace mnet
