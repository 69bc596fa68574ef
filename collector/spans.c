#include "spans.h"
