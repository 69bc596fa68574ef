#include "children.h"
