#include "drain.h"
