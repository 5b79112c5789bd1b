#define BOOST_TEST_MODULE line_splitter
#include <boost/test/unit_test.hpp>

#include <random>

#include "io/line_splitter.hpp"

BOOST_AUTO_TEST_CASE(placeholder) { BOOST_TEST(true); }
