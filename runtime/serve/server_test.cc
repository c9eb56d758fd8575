#include "serve/server.h"
#include "gtest/gtest.h"
TEST(Serve, Placeholder) {}
