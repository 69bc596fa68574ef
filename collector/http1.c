#include "http1.h"
