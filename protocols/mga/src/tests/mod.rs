mod auth;
mod packet;
mod tshark;
