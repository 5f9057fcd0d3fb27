int ltc__placeholder;
