#include "preflight.h"
