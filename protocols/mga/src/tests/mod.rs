mod auth;
mod packet;
