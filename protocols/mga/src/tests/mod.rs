mod auth;
mod instance;
mod packet;
mod tshark;
