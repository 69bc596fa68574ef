#include "conns.h"
