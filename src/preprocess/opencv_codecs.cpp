// SPDX-License-Identifier: Apache-2.0
#include "preprocess/opencv_codecs.h"

#include <dlfcn.h>

#include <string>

#include "mnet/error.h"

namespace mnet {
namespace {

using ImdecodeFn = cv::Mat (*)(const cv::_InputArray&, int);

// The OpenCV build mnet was configured against (CMake passes its soname): the same library, so the same
// decoders the canonical preprocessing used.
constexpr const char* kLibrary = MNET_OPENCV_IMGCODECS_SONAME;
// cv::imdecode(InputArray, int), mangled: the C++ ABI name is stable for the library's soname.
constexpr const char* kImdecodeSymbol = "_ZN2cv8imdecodeERKNS_11_InputArrayEi";

ImdecodeFn load_imdecode() {
    // Never closed: the codecs stay loaded for the rest of the process, as if linked.
    void* library = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        const char* why = ::dlerror();
        throw Error(ErrorCode::Backend,
                    std::string("cannot load OpenCV's image codecs (") + (why ? why : kLibrary) + ")");
    }
    void* symbol = ::dlsym(library, kImdecodeSymbol);
    if (symbol == nullptr) {
        throw Error(ErrorCode::Backend, std::string("cannot load OpenCV's image codecs (") + kLibrary +
                                            " has no cv::imdecode(InputArray, int))");
    }
    return reinterpret_cast<ImdecodeFn>(symbol);
}

}  // namespace

cv::Mat opencv_imdecode(const cv::Mat& buffer, int flags) {
    static const ImdecodeFn imdecode = load_imdecode();  // a failed load throws and is retried on the next call
    return imdecode(buffer, flags);
}

}  // namespace mnet
