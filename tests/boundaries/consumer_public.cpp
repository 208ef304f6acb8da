// SPDX-License-Identifier: Apache-2.0
// A program that links only the library target (mnet::mnet) and uses include/mnet: must compile and link.
#include <iostream>

#include "mnet/engine.h"

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    mnet::Session session(mnet::Model::load(argv[1]), mnet::SessionOptions{});
    std::cout << session.model().name() << '\n';
}
